"""An incident is contained only when every finding that needs attention is addressed (its actions' latest
results were proved by a read-back) or accepted by a responder with a reason; otherwise it stays open and
the audit log says "partly contained: N findings open"."""

from __future__ import annotations

from typing import Any

from services.findings.containment import assess_containment, finding_key, findings_left
from services.store import audit, incidents
from services.store.db import Store, utcnow
from services.store.journal import RunJournal, start_direct_run
from services.store.records import IncidentStatus
from services.vocabulary import ActionId, ActionResult, ActionStatus, Actor, Impact
from tests.services.store.helpers import ALICE, DANA, EVAN

METHOD = {"kind": "mfa_method_added", "severity": "high", "title": "New authentication method registered",
          "actions": ["reset_mfa"], "targets": ["m-1"]}
NO_MFA = {"kind": "no_mfa", "severity": "medium", "title": "No multifactor authentication method registered",
          "actions": [], "targets": []}
ROLE_LOW = {"kind": "admin_role", "severity": "low", "title": "Holds directory role Global Administrator",
            "actions": [], "targets": ["r-1"]}
INVESTIGATION = {"findings": [METHOD, NO_MFA, ROLE_LOW]}


async def _incident(store: Store, investigation: dict[str, Any] | None = None) -> Any:
    opened = await incidents.open_incident(store, target=ALICE, source="command", opened_by=DANA,
                                           investigation=investigation or INVESTIGATION)
    return opened.incident


async def _run(store: Store, incident: Any, result: ActionResult) -> None:
    [request] = await start_direct_run(store, incident=incident, actions=[result.action],
                                       impacts={result.action: Impact.STANDARD}, actor=DANA, approver=None,
                                       reason="test", worker_id="w-1", override_unblock=False, correlation_id=None,
                                       now=utcnow())
    journal = RunJournal(store)
    await journal.finish(request_id=request.id, worker_id="w-1", result=result, target=incident.target_upn,
                         approver=None)
    await journal.drain()


def test_a_finding_is_addressed_only_by_a_verified_result_of_every_action_it_recommends() -> None:
    ok = {"status": "succeeded", "verified": True}
    assert not assess_containment(INVESTIGATION, {"reset_mfa": ok}).contained  # no_mfa is still open
    state = assess_containment(INVESTIGATION, {"reset_mfa": ok}, accepted=[finding_key(NO_MFA)])
    assert state.contained and state.accepted == 1 and state.sentence.startswith("Contained")
    for outcome in ({"status": "succeeded", "verified": False}, {"status": "partial", "verified": False},
                    {"status": "skipped", "verified": False}, {"status": "failed", "verified": False}):
        state = assess_containment(INVESTIGATION, {"reset_mfa": outcome})
        assert [f.kind for f in state.open] == ["mfa_method_added", "no_mfa"], outcome
        assert state.sentence == "Partly contained: 2 findings open."


def test_findings_left_names_what_a_run_was_asked_to_address_and_did_not() -> None:
    partial = ActionResult(ActionId.RESET_MFA, ActionStatus.PARTIAL, verified=False, detail="still there")
    done = ActionResult(ActionId.RESET_MFA, ActionStatus.SUCCEEDED, verified=True)
    assert [f.kind for f in findings_left(INVESTIGATION, [partial])] == ["mfa_method_added"]
    assert findings_left(INVESTIGATION, [done]) == []
    assert findings_left(INVESTIGATION, [ActionResult(ActionId.BLOCK_SIGNIN, ActionStatus.FAILED, False)]) == []


async def test_open_findings_keep_the_incident_open_and_say_so_in_the_audit_log(store: Store) -> None:
    incident = await _incident(store)
    await _run(store, incident, ActionResult(ActionId.RESET_MFA, ActionStatus.SUCCEEDED, verified=True))
    after = await incidents.get(store, incident_id=incident.id)
    assert after is not None and after.status is IncidentStatus.OPEN
    rows = await audit.recent(store, incident_id=incident.id, limit=50)
    partly = [r for r in rows if r.event == "incident.partly_contained"]
    assert partly and partly[-1].detail.startswith("Partly contained: 1 finding open.")
    assert "No multifactor" in partly[-1].detail


async def test_accepting_the_last_open_finding_with_a_reason_contains_the_incident(store: Store) -> None:
    incident = await _incident(store)
    await _run(store, incident, ActionResult(ActionId.RESET_MFA, ActionStatus.SUCCEEDED, verified=True))
    key = finding_key(NO_MFA)

    refused = await incidents.accept_finding(store, incident_id=incident.id, finding=key, actor=EVAN, reason="  ")
    assert not refused.ok and "reason" in refused.sentence
    own = Actor(ALICE.id, ALICE.display_name)
    refused = await incidents.accept_finding(store, incident_id=incident.id, finding=key, actor=own, reason="ok")
    assert not refused.ok and "own account" in refused.sentence
    unknown = await incidents.accept_finding(store, incident_id=incident.id, finding="fnd_000000000000",
                                             actor=EVAN, reason="fine")
    assert not unknown.ok
    addressed = await incidents.accept_finding(store, incident_id=incident.id, finding=finding_key(METHOD),
                                               actor=EVAN, reason="fine")
    assert not addressed.ok, "an addressed finding is not open"

    accepted = await incidents.accept_finding(store, incident_id=incident.id, finding=key, actor=EVAN,
                                              reason="The owner registers MFA at next sign-in; tracked in HR-12.")
    assert accepted.ok and accepted.contained
    assert accepted.incident is not None and accepted.incident.status is IncidentStatus.CONTAINED
    rows = await audit.recent(store, incident_id=incident.id, limit=50)
    [row] = [r for r in rows if r.event == "finding.accepted"]
    assert row.actor_id == EVAN.id and "HR-12" in row.detail
    assert any(r.event == "incident.contained" for r in rows)


async def test_a_failed_action_never_contains_even_when_findings_are_accepted(store: Store) -> None:
    incident = await _incident(store, {"findings": [NO_MFA]})
    await _run(store, incident, ActionResult(ActionId.BLOCK_SIGNIN, ActionStatus.FAILED, verified=False,
                                             detail="Graph refused."))
    accepted = await incidents.accept_finding(store, incident_id=incident.id, finding=finding_key(NO_MFA),
                                              actor=EVAN, reason="Owner enrols tomorrow.")
    assert accepted.ok and not accepted.contained


async def test_a_new_investigation_keeps_acceptances_of_findings_it_still_reports(store: Store) -> None:
    incident = await _incident(store)
    key = finding_key(NO_MFA)
    assert (await incidents.accept_finding(store, incident_id=incident.id, finding=key, actor=EVAN,
                                           reason="Known.")).ok
    await incidents.set_investigation(store, incident_id=incident.id, investigation={"findings": [METHOD, NO_MFA]})
    kept = await incidents.get(store, incident_id=incident.id)
    assert kept is not None and key in (kept.investigation or {}).get("accepted", {})
    await incidents.set_investigation(store, incident_id=incident.id, investigation={"findings": [METHOD]})
    dropped = await incidents.get(store, incident_id=incident.id)
    assert dropped is not None and not (dropped.investigation or {}).get("accepted")
