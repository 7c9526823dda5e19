"""The closing summary: Secure Score numbers computed from the fixture, audit events counted from the
Audit Log Query API (and the bounded wait), mailbox audit state, and the actions with their actors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dialogs.flows.render import to_view
from sandbox.fixture import default_fixture_path
from services.summary.audit import PENDING_NOTE, classify, gather_audit_events
from services.summary.build import build_summary, secure_score
from services.summary.score import change_over
from services.tenant.models import AuditRecord, SecureScore
from services.vocabulary import ActionId
from tests.services.actions.helpers import RESPONDER, incident_for, run, user

RELEVANT = {"mfaRegistrationV2", "adminMFAV2", "BlockLegacyAuthentication", "UserRiskPolicy", "SigninRiskPolicy",
            "mailboxAuditingEnabled"}


def _fixture_score() -> dict[str, Any]:
    return json.loads(default_fixture_path().read_text())["secureScore"]  # type: ignore[no-any-return]


def _total(controls: list[dict[str, Any]], days_ago: int) -> float:
    total = 0.0
    for c in controls:
        before = c.get("scoreBefore")
        total += float(before["score"]) if before and days_ago >= int(before["daysAgo"]) else float(c["score"])
    return total


async def test_secure_score_numbers_match_the_fixture(runtime: Any) -> None:
    spec = _fixture_score()
    controls = spec["controls"]
    expected_max = sum(float(c["maxScore"]) for c in controls)
    now_total = _total(controls, 0)

    s = await secure_score(tenant=runtime.tenant)

    assert s is not None
    assert s.current == pytest.approx(now_total) and s.max == pytest.approx(expected_max)
    assert s.percent == pytest.approx(round(100 * now_total / expected_max, 1))
    assert s.change_7d == pytest.approx(now_total - _total(controls, 7))
    # The history holds 30 days (today and 29 back): the oldest is the 30-day baseline, a day's tolerance.
    assert s.change_30d == pytest.approx(now_total - _total(controls, spec["days"] - 1))
    assert s.peers == tuple((a["basis"], a["averageScore"]) for a in spec["averageComparativeScores"])
    by_id = {c.id: c for c in s.controls}
    assert set(by_id) == RELEVANT
    for c in controls:
        if c["controlName"] in RELEVANT:
            assert by_id[c["controlName"]].points_available == pytest.approx(float(c["maxScore"]) - float(c["score"]))
    assert [c.points_available for c in s.controls] == sorted((c.points_available for c in s.controls), reverse=True)


def test_change_over_needs_history_that_far_back() -> None:
    today = datetime(2025, 3, 1, 2, tzinfo=UTC)
    history = [SecureScore(created=today - timedelta(days=d), current_score=50 - d, max_score=100) for d in range(5)]
    assert change_over(history, 3) == 3
    assert change_over(history, 7) is None


async def test_audit_events_of_alice_are_counted(runtime: Any) -> None:
    events = await gather_audit_events(tenant=runtime.tenant, user_principal_name="alice@contoso.com",
                                       wait_s=15, poll_s=0.2)
    assert not events.pending, events.note
    assert [e.operation for e in events.inbox_rule_changes] == ["New-InboxRule", "New-InboxRule"]
    assert [e.operation for e in events.forwarding_changes] == ["Set-Mailbox"]
    assert (events.mail_items_accessed, events.mail_items_accessed_records) == (212 + 1873 + 14, 3)
    assert events.sends == 1
    assert dict(events.counts)["MailItemsAccessed"] == 3


async def test_a_slow_audit_query_says_the_events_are_still_being_gathered(runtime: Any) -> None:
    events = await gather_audit_events(tenant=runtime.tenant, user_principal_name="alice@contoso.com", wait_s=0.0)
    assert events.pending and events.note == PENDING_NOTE and events.query_id
    later = await gather_audit_events(tenant=runtime.tenant, user_principal_name="alice@contoso.com",
                                      query_id=events.query_id, wait_s=15, poll_s=0.2)
    assert not later.pending and later.sends == 1


def test_classify_reads_parameters_in_either_shape() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    records = [
        AuditRecord(id="1", created=at, operation="Set-Mailbox", user_principal_name="a", object_id=None,
                    client_ip=None, audit_data={"Parameters": [{"Name": "ForwardingSmtpAddress", "Value": "x@y.z"}]}),
        AuditRecord(id="2", created=at, operation="Set-Mailbox", user_principal_name="a", object_id=None,
                    client_ip=None, audit_data={"Parameters": {"AuditEnabled": True}}),
        AuditRecord(id="3", created=at, operation="SendAs", user_principal_name="a", object_id=None, client_ip=None),
    ]
    events = classify(records)
    assert len(events.forwarding_changes) == 1 and "x@y.z" in events.forwarding_changes[0].detail
    assert events.sends == 1


async def test_build_summary_after_containment(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    await run(runtime, incident, alice, [ActionId.ENABLE_MAILBOX_AUDIT, ActionId.REMOVE_FORWARDING])

    summary = await build_summary(tenant=runtime.tenant, store=runtime.store, incident=incident, audit_wait_s=15)

    assert {(a.action, a.state) for a in summary.actions} == {(ActionId.ENABLE_MAILBOX_AUDIT, "succeeded"),
                                                              (ActionId.REMOVE_FORWARDING, "succeeded")}
    assert all(a.requested_by == RESPONDER and a.verified for a in summary.actions)
    assert summary.mailbox_audit is not None
    # Auditing on by default: the organisation's switch and the (now ended) bypass decide, not AuditEnabled.
    assert (summary.mailbox_audit.org_audit_disabled, summary.mailbox_audit.bypass) == (False, False)
    assert summary.mailbox_audit.recording
    assert summary.audit_events is not None and not summary.audit_events.pending
    # Contain's own Set-Mailbox calls are in the account's audit trail too.
    assert len(summary.audit_events.forwarding_changes) >= 2
    assert summary.secure_score is not None and summary.gaps == ()
    view = to_view(summary)
    assert view.secure_score.current == summary.secure_score.current
    assert {line.action for line in view.lines} == {a.action for a in summary.actions}
