"""Running sets: everything recommended for alice, the unblock_sender precondition and its override,
undo from snapshots, and a run through injected 503/429 faults."""

from __future__ import annotations

from typing import Any

from services.actions import catalog
from services.actions.engine import ActionProgress, undo_request
from services.findings.investigation import investigate
from services.store import audit, requests
from services.vocabulary import ActionId, ActionResult, ActionStatus, FindingKind
from tests.services.actions.helpers import RESPONDER, applied_twice, by_status, incident_for, run, user, writes

# What each recommended action fixes; a fresh investigation must not show these kinds again.
# (suspicious_signin is history, and risky_user stays confirmedCompromised: both are records, not state.)
ADDRESSED = {FindingKind.INBOX_RULE_FORWARD, FindingKind.INBOX_RULE_DELETE, FindingKind.INBOX_RULE_HIDDEN,
             FindingKind.MAILBOX_FORWARDING, FindingKind.MAILBOX_DELEGATE, FindingKind.BLOCKED_SENDER,
             FindingKind.MAILBOX_AUDIT_OFF, FindingKind.MFA_METHOD_ADDED, FindingKind.OAUTH_GRANT}


async def test_every_recommended_action_then_a_fresh_investigation_is_clean(runtime: Any) -> None:
    alice = await user(runtime)
    before = await investigate(tenant=runtime.tenant, user=alice)
    assert ADDRESSED <= {f.kind for f in before.findings}
    incident = await incident_for(runtime, alice)
    seen: list[Any] = []

    results = await run(runtime, incident, alice, list(before.recommended_actions), on_progress=seen.append)

    assert all(r.status is ActionStatus.SUCCEEDED and r.verified for r in results), by_status(results)
    after = await investigate(tenant=runtime.tenant, user=alice)
    assert not ADDRESSED & {f.kind for f in after.findings}, [f.kind.value for f in after.findings]
    assert {e.action for e in seen if isinstance(e, ActionResult)} == set(before.recommended_actions)
    assert {e.action for e in seen if isinstance(e, ActionProgress)} == set(before.recommended_actions)
    # Every write has its audit row (event action.<id>, the request id), and the chain verifies.
    rows = [e for e in await audit.recent(runtime.store, incident_id=incident.id, limit=500)
            if e.event.startswith("action.")]
    landed = {w.request_id for w in writes(runtime)}
    audited = {rid for e in rows for rid in e.request_ids}
    assert landed <= audited
    assert all(e.actor_id == RESPONDER.id for e in rows)
    assert (await audit.verify(runtime.store)).ok
    assert {r.state.value for r in await requests.for_incident(runtime.store, incident_id=incident.id)} \
        == {"succeeded"}


async def test_unblock_sender_first_is_refused_with_the_reason_and_writes_nothing(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    landed = len(writes(runtime))

    [result] = await run(runtime, incident, alice, [ActionId.UNBLOCK_SENDER])

    assert result.status is ActionStatus.REFUSED
    unblock = catalog.spec(ActionId.UNBLOCK_SENDER)
    assert result.detail == unblock.refusal([ActionId.RESET_PASSWORD, ActionId.REVOKE_SESSIONS])
    assert "password has not been reset and sessions have not been revoked" in result.detail
    assert len(writes(runtime)) == landed


async def test_unblock_sender_runs_after_its_dependencies_in_a_later_run(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    first = await run(runtime, incident, alice, [ActionId.RESET_PASSWORD, ActionId.REVOKE_SESSIONS])
    assert {r.status for r in first} == {ActionStatus.SUCCEEDED}
    [later] = await run(runtime, incident, alice, [ActionId.UNBLOCK_SENDER])
    assert (later.status, later.verified) == (ActionStatus.SUCCEEDED, True), later.detail


async def test_unblock_sender_in_the_same_run_waits_for_its_dependencies(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    results = await run(runtime, incident, alice,
                        [ActionId.UNBLOCK_SENDER, ActionId.RESET_PASSWORD, ActionId.REVOKE_SESSIONS])
    assert by_status(results) == {"unblock_sender": "succeeded", "reset_password": "succeeded",
                                  "revoke_sessions": "succeeded"}
    order = [w.route for w in writes(runtime)]
    assert order.index("EXO Remove-BlockedSenderAddress") > order.index("POST /users/{id}/revokeSignInSessions")


async def test_override_runs_unblock_sender_and_is_audited(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    [result] = await run(runtime, incident, alice, [ActionId.UNBLOCK_SENDER], override_unblock=True)
    assert result.status is ActionStatus.SUCCEEDED
    rows = await audit.recent(runtime.store, incident_id=incident.id, limit=100)
    overrides = [e for e in rows if e.event == "request.override"]
    assert len(overrides) == 1 and overrides[0].actor_id == RESPONDER.id


async def _request_id(runtime: Any, incident_id: str, action: ActionId) -> str:
    reqs = await requests.for_incident(runtime.store, incident_id=incident_id)
    return next(r.id for r in reqs if r.action == action.value and r.undo_of is None)


async def test_undo_block_signin_restores_the_snapshot(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    await run(runtime, incident, alice, [ActionId.BLOCK_SIGNIN])
    assert runtime.sandbox.state.find_user(alice.id)["accountEnabled"] is False

    undone = await undo_request(tenant=runtime.tenant, writer=runtime.writer, store=runtime.store, actor=RESPONDER,
                                request_id=await _request_id(runtime, incident.id, ActionId.BLOCK_SIGNIN))

    assert (undone.status, undone.verified) == (ActionStatus.SUCCEEDED, True), undone.detail
    assert runtime.sandbox.state.find_user(alice.id)["accountEnabled"] is True


async def test_undo_disable_inbox_rules_re_enables_exactly_the_disabled_rules(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    mailbox = runtime.sandbox.state.mailbox(alice.id)
    original = {r["name"]: r["enabled"] for r in mailbox["inboxRules"]}
    await run(runtime, incident, alice, [ActionId.DISABLE_INBOX_RULES])
    assert not any(r["enabled"] for r in mailbox["inboxRules"]
                   if r["name"] != "Newsletters" and r["name"] != "Junk E-Mail Rule"
                   and not r["name"].startswith("Microsoft.Exchange.OOF."))

    undone = await undo_request(tenant=runtime.tenant, writer=runtime.writer, store=runtime.store, actor=RESPONDER,
                                request_id=await _request_id(runtime, incident.id, ActionId.DISABLE_INBOX_RULES))

    assert (undone.status, undone.verified) == (ActionStatus.SUCCEEDED, True), undone.detail
    assert {r["name"]: r["enabled"] for r in mailbox["inboxRules"]} == original


async def test_undo_remove_forwarding_restores_the_address(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    mailbox = runtime.sandbox.state.mailbox(alice.id)
    was = (mailbox["forwardingSmtpAddress"], mailbox["deliverToMailboxAndForward"])
    await run(runtime, incident, alice, [ActionId.REMOVE_FORWARDING])
    undone = await undo_request(tenant=runtime.tenant, writer=runtime.writer, store=runtime.store, actor=RESPONDER,
                                request_id=await _request_id(runtime, incident.id, ActionId.REMOVE_FORWARDING))
    assert undone.status is ActionStatus.SUCCEEDED, undone.detail
    assert (mailbox["forwardingSmtpAddress"], mailbox["deliverToMailboxAndForward"]) == was


async def test_twenty_percent_faults_on_every_write_route_never_apply_a_write_twice(runtime: Any) -> None:
    alice = await user(runtime)
    before = await investigate(tenant=runtime.tenant, user=alice)
    incident = await incident_for(runtime, alice)
    rules = []
    for route in ("PATCH *", "POST *", "DELETE *", "EXO Set-*", "EXO Remove-*", "EXO Disable-*"):
        rules += [{"route": route, "status": 503, "probability": 0.1, "afterWrite": True},
                  {"route": route, "status": 503, "probability": 0.05},
                  {"route": route, "status": 429, "probability": 0.05, "retryAfter": 0}]
    runtime.sandbox.faults.configure({"rules": rules, "seed": 7})
    runtime.sandbox.faults.rules = [r for r in runtime.sandbox.faults.rules]  # keep the configured order

    results = await run(runtime, incident, alice, list(before.recommended_actions))

    fired = sum(r.fired for r in runtime.sandbox.faults.rules)
    assert fired >= 3, "the faults should have fired"
    for r in results:
        assert r.status is ActionStatus.SUCCEEDED or (r.status is ActionStatus.FAILED and r.detail), r
    assert applied_twice(writes(runtime)) == []
