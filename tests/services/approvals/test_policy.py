import asyncio
from datetime import timedelta

import pytest

from services import approvals
from services.actions.catalog import is_high_impact
from services.approvals import OutcomeCode, ResponderCache, clean_reason
from services.store import audit, incidents, requests
from services.store.db import Store
from services.store.records import RequestState
from services.vocabulary import ActionId, Actor
from tests.services.approvals.fakes import Responders
from tests.services.store.helpers import ALICE, CAROL, DANA, EVAN, MALLORY, open_incident

RESPONDERS = Responders()


async def _events(store: Store) -> list[tuple[str, str, str]]:
    return [(e.event, e.actor_id, e.outcome) for e in await audit.recent(store, limit=500)]


def test_high_impact_comes_from_the_vocabulary_or_an_admin_target() -> None:
    assert is_high_impact(ActionId.RESET_PASSWORD, target_is_admin=False)
    assert is_high_impact("unblock_sender", target_is_admin=False)
    assert not is_high_impact(ActionId.REVOKE_SESSIONS, target_is_admin=False)
    assert is_high_impact(ActionId.REVOKE_SESSIONS, target_is_admin=True)


@pytest.mark.parametrize("raw, expected", [
    ("  Alice reported\u202e odd\tmail \x00\n", "Alice reported odd mail"),
    ("", None), ("\x01\u200b  ", None), (None, None), ("x" * 501, None), ("x" * 500, "x" * 500),
])
def test_reasons_are_required_short_and_plain(raw: str | None, expected: str | None) -> None:
    assert clean_reason(raw) == expected


async def test_standard_actions_run_at_once_and_high_ones_wait(store: Store) -> None:
    inc = await open_incident(store)
    out = await approvals.confirm(store, incident_id=inc.id, actions=["revoke_sessions", "reset_password"],
                                  actor=DANA, reason="Impossible travel", is_responder=RESPONDERS)
    assert out.ok and out.code is OutcomeCode.CONFIRMED
    states = {r.action: r for r in out.requests}
    assert states["revoke_sessions"].state is RequestState.APPROVED
    assert states["revoke_sessions"].decided_by_id == DANA.id
    high = states["reset_password"]
    assert (high.state, high.impact) == (RequestState.AWAITING_APPROVAL, "high")
    assert high.expires_at == high.requested_at + timedelta(minutes=30)
    assert len({r.batch_id for r in out.requests}) == 1
    assert out.message == "Confirmed: Revoke sessions will run now; Reset password waits for a second responder."
    assert [e[0] for e in await _events(store)].count("request.confirmed") == 2


async def test_every_action_on_an_admin_needs_a_second_responder(store: Store) -> None:
    inc = await open_incident(store, CAROL, admin=True)
    out = await approvals.confirm(store, incident_id=inc.id, actions=["revoke_sessions"], actor=DANA, reason="r",
                                  is_responder=RESPONDERS)
    assert out.requests[0].state is RequestState.AWAITING_APPROVAL


async def test_a_non_responder_is_refused_and_audited(store: Store) -> None:
    inc = await open_incident(store)
    out = await approvals.confirm(store, incident_id=inc.id, actions=["block_signin"], actor=MALLORY, reason="r",
                                  is_responder=RESPONDERS)
    assert (out.ok, out.code) == (False, OutcomeCode.NOT_RESPONDER)
    assert await requests.for_incident(store, incident_id=inc.id) == []
    assert ("access.refused", MALLORY.id, "refused") in await _events(store)


async def test_nobody_acts_on_their_own_account(store: Store) -> None:
    inc = await open_incident(store)
    alice = Actor(id=ALICE.id.upper(), name="Alice Wong")  # same object id, other case
    out = await approvals.confirm(store, incident_id=inc.id, actions=["revoke_sessions"], actor=alice, reason="r",
                                  is_responder=Responders(alice.id, DANA.id))
    assert out.code is OutcomeCode.OWN_ACCOUNT and not out.ok
    assert await requests.for_incident(store, incident_id=inc.id) == []
    pending = await approvals.confirm(store, incident_id=inc.id, actions=["block_signin"], actor=DANA, reason="r",
                                      is_responder=RESPONDERS)
    decided = await approvals.approve(store, request_id=pending.requests[0].id, approver=alice,
                                      is_responder=Responders(alice.id))
    assert decided.code is OutcomeCode.OWN_ACCOUNT
    assert ("request.refused", alice.id, "refused") in await _events(store)


async def test_high_actions_need_a_different_second_responder(store: Store) -> None:
    inc = await open_incident(store)
    out = await approvals.confirm(store, incident_id=inc.id, actions=["block_signin"], actor=DANA, reason="r",
                                  is_responder=RESPONDERS)
    req_id = out.requests[0].id
    own = await approvals.approve(store, request_id=req_id, approver=DANA, is_responder=RESPONDERS)
    assert own.code is OutcomeCode.SELF_APPROVAL and "different responder" in own.message
    outsider = await approvals.approve(store, request_id=req_id, approver=MALLORY, is_responder=RESPONDERS)
    assert outsider.code is OutcomeCode.NOT_RESPONDER
    assert (await requests.get(store, request_id=req_id)).state is RequestState.AWAITING_APPROVAL  # type: ignore[union-attr]
    ok = await approvals.approve(store, request_id=req_id, approver=EVAN, is_responder=RESPONDERS)
    assert ok.ok and ok.code is OutcomeCode.APPROVED
    stored = await requests.get(store, request_id=req_id)
    assert stored is not None and (stored.state, stored.decided_by_id) == (RequestState.APPROVED, EVAN.id)
    again = await approvals.approve(store, request_id=req_id, approver=EVAN, is_responder=RESPONDERS)
    assert again.code is OutcomeCode.ALREADY_DECIDED
    assert again.message == "Block sign-in was already approved by Evan Responder."
    events = await _events(store)
    assert ("request.approved", EVAN.id, "approved") in events
    assert ("access.refused", MALLORY.id, "refused") in events


async def test_two_responders_approving_at_once_make_one_transition(store: Store, second_store: Store) -> None:
    inc = await open_incident(store)
    out = await approvals.confirm(store, incident_id=inc.id, actions=["reset_password", "block_signin"], actor=DANA,
                                  reason="r", is_responder=RESPONDERS)
    batch = out.requests[0].batch_id
    third = Actor(id="22222222-bbbb-4bbb-8bbb-000000000003", name="Fay Responder")
    voters = Responders(DANA.id, EVAN.id, third.id)
    results = await asyncio.gather(*(
        approvals.approve(s, request_id=batch, approver=who, is_responder=voters)
        for s, who in [(store, EVAN), (second_store, third), (store, third), (second_store, EVAN)]))
    winners = [r for r in results if r.ok]
    assert len(winners) >= 1
    assert sum(len(r.requests) for r in winners) == 2  # each request approved exactly once
    assert all(r.code is OutcomeCode.ALREADY_DECIDED for r in results if not r.ok)
    assert all("already approved by" in r.message for r in results if not r.ok)
    approved_rows = [e for e in await _events(store) if e[0] == "request.approved"]
    assert len(approved_rows) == 2


async def test_a_double_click_on_confirm_requests_each_action_once(store: Store, second_store: Store) -> None:
    inc = await open_incident(store)
    results = await asyncio.gather(*(
        approvals.confirm(s, incident_id=inc.id, actions=["revoke_sessions", "block_signin"], actor=DANA,
                          reason="r", is_responder=RESPONDERS) for s in (store, second_store, store)))
    assert sum(r.ok for r in results) == 1
    assert {r.code for r in results if not r.ok} == {OutcomeCode.ALREADY_PENDING}
    assert len(await requests.for_incident(store, incident_id=inc.id)) == 2


async def test_reject_by_another_responder_and_cancel_by_the_requester(store: Store) -> None:
    inc = await open_incident(store)
    first = await approvals.confirm(store, incident_id=inc.id, actions=["block_signin"], actor=DANA, reason="r",
                                    is_responder=RESPONDERS)
    rejected = await approvals.reject(store, request_id=first.requests[0].id, actor=EVAN, is_responder=RESPONDERS)
    assert rejected.code is OutcomeCode.REJECTED and rejected.requests[0].state is RequestState.REJECTED
    late = await approvals.approve(store, request_id=first.requests[0].id, approver=EVAN, is_responder=RESPONDERS)
    assert late.message == "Block sign-in was already rejected by Evan Responder."
    second = await approvals.confirm(store, incident_id=inc.id, actions=["block_signin"], actor=DANA, reason="r",
                                     is_responder=RESPONDERS)
    cancelled = await approvals.reject(store, request_id=second.requests[0].id, actor=DANA, is_responder=RESPONDERS)
    assert cancelled.code is OutcomeCode.CANCELLED


async def test_a_pending_request_expires_and_cannot_be_approved(store: Store) -> None:
    inc = await open_incident(store)
    out = await approvals.confirm(store, incident_id=inc.id, actions=["block_signin"], actor=DANA, reason="r",
                                  is_responder=RESPONDERS, ttl=timedelta(minutes=10))
    req = out.requests[0]
    late = req.requested_at + timedelta(minutes=10, seconds=1)
    outcome = await approvals.approve(store, request_id=req.id, approver=EVAN, is_responder=RESPONDERS, now=late)
    assert outcome.code is OutcomeCode.EXPIRED and "expired" in outcome.message
    assert (await requests.get(store, request_id=req.id)).state is RequestState.EXPIRED  # type: ignore[union-attr]
    assert ("request.expired", "system", "expired") in await _events(store)


async def test_bad_input_is_refused_with_one_sentence(store: Store) -> None:
    inc = await open_incident(store)
    bad_action = await approvals.confirm(store, incident_id=inc.id, actions=["format_c"], actor=DANA, reason="r",
                                         is_responder=RESPONDERS)
    assert bad_action.code is OutcomeCode.UNKNOWN_ACTION and "format_c" in bad_action.message
    no_reason = await approvals.confirm(store, incident_id=inc.id, actions=["block_signin"], actor=DANA,
                                        reason=" \x00 ", is_responder=RESPONDERS)
    assert no_reason.code is OutcomeCode.BAD_REASON
    forged = await approvals.confirm(store, incident_id="inc_doesnotexi", actions=["block_signin"], actor=DANA,
                                     reason="r", is_responder=RESPONDERS)
    assert forged.code is OutcomeCode.NOT_FOUND
    forged_req = await approvals.approve(store, request_id="req_forged", approver=EVAN, is_responder=RESPONDERS)
    assert forged_req.code is OutcomeCode.NOT_FOUND
    assert await requests.for_incident(store, incident_id=inc.id) == []


async def test_a_closed_incident_takes_no_actions(store: Store) -> None:
    inc = await open_incident(store)
    pending = await approvals.confirm(store, incident_id=inc.id, actions=["block_signin"], actor=DANA, reason="r",
                                      is_responder=RESPONDERS)
    await incidents.close(store, incident_id=inc.id, actor=EVAN, reason="done")
    assert (await requests.get(store, request_id=pending.requests[0].id)).state is RequestState.CANCELLED  # type: ignore[union-attr]
    out = await approvals.confirm(store, incident_id=inc.id, actions=["revoke_sessions"], actor=DANA, reason="r",
                                  is_responder=RESPONDERS)
    assert out.code is OutcomeCode.INCIDENT_CLOSED


async def test_unblock_sender_waits_for_reset_and_revoke_or_an_override(store: Store) -> None:
    inc = await open_incident(store)
    alone = await approvals.confirm(store, incident_id=inc.id, actions=["unblock_sender"], actor=DANA, reason="r",
                                    is_responder=RESPONDERS)
    refused = alone.requests[0]
    assert refused.state is RequestState.REFUSED
    assert "password has not been reset and sessions have not been revoked" in alone.message
    assert refused.result is not None and refused.result["status"] == "refused"
    assert ("request.refused", DANA.id, "refused") in await _events(store)

    overridden = await approvals.confirm(store, incident_id=inc.id, actions=["unblock_sender"], actor=DANA,
                                         reason="Payroll must send today", is_responder=RESPONDERS,
                                         override_unblock=True)
    req = overridden.requests[0]
    assert (req.state, req.override) == (RequestState.AWAITING_APPROVAL, True)
    assert ("request.override", DANA.id, "override") in await _events(store)


async def test_unblock_sender_confirmed_with_its_prerequisites_is_accepted(store: Store) -> None:
    inc = await open_incident(store)
    out = await approvals.confirm(store, incident_id=inc.id,
                                  actions=["reset_password", "revoke_sessions", "unblock_sender"],
                                  actor=DANA, reason="r", is_responder=RESPONDERS)
    assert {r.action: r.state for r in out.requests}["unblock_sender"] is RequestState.AWAITING_APPROVAL


async def test_the_responder_cache_asks_once_per_ttl() -> None:
    now = [0.0]
    check = Responders(DANA.id)
    cache = ResponderCache(check, ttl_s=60, negative_ttl_s=10, clock=lambda: now[0])
    assert await cache(DANA.id) and await cache(DANA.id.upper())
    assert not await cache(MALLORY.id) and not await cache(MALLORY.id)
    assert check.calls == [DANA.id, MALLORY.id]
    now[0] = 11.0
    check.ids.add(MALLORY.id)
    assert await cache(MALLORY.id)  # a refusal is remembered briefly
    assert await cache(DANA.id) and len(check.calls) == 3
    now[0] = 61.0
    await cache(DANA.id)
    assert len(check.calls) == 4
