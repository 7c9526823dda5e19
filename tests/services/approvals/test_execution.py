import asyncio
from collections import Counter
from datetime import timedelta

from services import approvals
from services.store import audit, incidents, requests
from services.store.db import Store, utcnow
from services.store.records import IncidentStatus, RequestState
from services.vocabulary import ActionId, ActionResult, ActionStatus
from tests.services.approvals.fakes import Responders
from tests.services.store.helpers import ALICE, DANA, EVAN, open_incident

RESPONDERS = Responders()
STANDARD = ["revoke_sessions", "disable_inbox_rules", "remove_forwarding", "enable_mailbox_audit"]


def ok(action: str, **kw: object) -> ActionResult:
    return ActionResult(action=ActionId(action), status=ActionStatus.SUCCEEDED, verified=True, detail="Done.",
                        request_ids=("graph-req-1",), **kw)  # type: ignore[arg-type]


async def _approved_requests(store: Store, n_incidents: int) -> list[str]:
    ids = []
    for i in range(n_incidents):
        target = ALICE.__class__(id=f"user-{i}", user_principal_name=f"u{i}@contoso.com", display_name=f"U{i}")
        inc = await open_incident(store, target)
        out = await approvals.confirm(store, incident_id=inc.id, actions=STANDARD, actor=DANA, reason="r",
                                      is_responder=RESPONDERS)
        ids += [r.id for r in out.requests]
    return ids


async def test_each_approved_request_is_claimed_exactly_once_by_two_workers(store: Store, second_store: Store) -> None:
    ids = await _approved_requests(store, 10)
    claims: Counter[str] = Counter()

    async def worker(s: Store, name: str) -> None:
        while batch := await approvals.claim(s, worker_id=name, lease_s=300, limit=3):
            for req in batch:
                claims[req.id] += 1
                assert req.state is RequestState.RUNNING and req.lease_owner == name and req.attempts == 1
            await asyncio.sleep(0)

    await asyncio.gather(worker(store, "a1"), worker(second_store, "b1"), worker(store, "a2"),
                         worker(second_store, "b2"))
    assert set(claims) == set(ids) and set(claims.values()) == {1}


async def test_a_dead_workers_lease_expires_and_another_resumes(store: Store, second_store: Store) -> None:
    inc = await open_incident(store)
    out = await approvals.confirm(store, incident_id=inc.id, actions=["revoke_sessions"], actor=DANA, reason="r",
                                  is_responder=RESPONDERS)
    t0 = out.requests[0].requested_at
    [mine] = await approvals.claim(store, worker_id="dies", lease_s=60, now=t0)
    assert await approvals.claim(second_store, worker_id="lives", now=t0 + timedelta(seconds=59)) == []
    assert await approvals.in_flight_after_crash(store, now=t0 + timedelta(seconds=59)) == []
    [crashed] = await approvals.in_flight_after_crash(store, now=t0 + timedelta(seconds=61))
    assert crashed.id == mine.id and crashed.lease_owner == "dies"
    [resumed] = await approvals.claim(second_store, worker_id="lives", lease_s=60, now=t0 + timedelta(seconds=61))
    assert resumed.id == mine.id and resumed.resumed and resumed.attempts == 2
    # The dead worker wakes up: it no longer holds the request, cannot renew it, and cannot overwrite the result.
    assert not await approvals.heartbeat(store, request_id=mine.id, worker_id="dies")
    late = await approvals.finish(store, request_id=mine.id, worker_id="dies", result=ok("revoke_sessions"))
    assert not late.ok and late.request is not None and late.request.state is RequestState.RUNNING
    done = await approvals.finish(second_store, request_id=mine.id, worker_id="lives", result=ok("revoke_sessions"))
    assert done.ok and done.request is not None and done.request.state is RequestState.SUCCEEDED
    events = [e.event for e in await audit.recent(store, limit=100)]
    assert "request.resumed" in events and events.count("action.revoke_sessions") == 2
    assert (await audit.verify(store)).ok


async def test_finish_records_the_result_without_the_password_and_contains_the_incident(store: Store) -> None:
    inc = await open_incident(store)
    out = await approvals.confirm(store, incident_id=inc.id, actions=["reset_password", "revoke_sessions"],
                                  actor=DANA, reason="r", is_responder=RESPONDERS)
    batch = out.requests[0].batch_id
    assert (await approvals.approve(store, request_id=batch, approver=EVAN, is_responder=RESPONDERS)).ok
    claimed = await approvals.claim(store, worker_id="w", limit=10)
    assert {r.action for r in claimed} == {"reset_password", "revoke_sessions"}
    assert await approvals.heartbeat(store, request_id=claimed[0].id, worker_id="w", lease_s=120)
    secret = "Zx9!kQ2@mW7#pL4$"
    results = {"reset_password": ok("reset_password", temporary_password=secret),
               "revoke_sessions": ok("revoke_sessions")}
    outcomes = [await approvals.finish(store, request_id=r.id, worker_id="w", result=results[r.action])
                for r in claimed]
    assert [o.incident_contained for o in outcomes] == [False, True]
    stored = await requests.for_incident(store, incident_id=inc.id)
    assert all(r.state is RequestState.SUCCEEDED and r.lease_owner is None for r in stored)
    assert all(r.result is not None and r.result["verified"] for r in stored)
    assert secret not in repr([r.result for r in stored])
    exported = repr([row async for row in audit.export(store)])
    assert secret not in exported and "graph-req-1" in exported and "approved by Evan Responder" in exported
    assert (await incidents.get(store, incident_id=inc.id)).status is IncidentStatus.CONTAINED  # type: ignore[union-attr]


async def test_a_result_given_as_a_mapping_is_scrubbed_too(store: Store) -> None:
    inc = await open_incident(store)
    await approvals.confirm(store, incident_id=inc.id, actions=["revoke_sessions"], actor=DANA, reason="r",
                            is_responder=RESPONDERS)
    [req] = await approvals.claim(store, worker_id="w")
    secret = "Qw3!rty$Uiop"
    done = await approvals.finish(store, request_id=req.id, worker_id="w", result={
        "action": "revoke_sessions", "status": "succeeded", "verified": True, "temporary_password": secret,
        "detail": f"new password: {secret}", "extra": {"password": secret}, "request_ids": []})
    assert done.ok and done.request is not None
    assert secret not in repr(done.request.result) and secret not in repr(await audit.recent(store))


async def test_unblock_sender_runs_only_after_its_prerequisites_succeed(store: Store) -> None:
    inc = await open_incident(store)
    out = await approvals.confirm(store, incident_id=inc.id,
                                  actions=["reset_password", "revoke_sessions", "unblock_sender"],
                                  actor=DANA, reason="r", is_responder=RESPONDERS)
    await approvals.approve(store, request_id=out.requests[0].batch_id, approver=EVAN, is_responder=RESPONDERS)
    first = await approvals.claim(store, worker_id="w", limit=10)
    assert {r.action for r in first} == {"reset_password", "revoke_sessions"}  # unblock_sender waits
    for r in first:
        await approvals.finish(store, request_id=r.id, worker_id="w", result=ok(r.action))
    [then] = await approvals.claim(store, worker_id="w", limit=10)
    assert then.action == "unblock_sender"


async def test_unblock_sender_is_refused_when_a_prerequisite_failed(store: Store) -> None:
    inc = await open_incident(store)
    out = await approvals.confirm(store, incident_id=inc.id, actions=["revoke_sessions", "unblock_sender"],
                                  actor=DANA, reason="r", is_responder=RESPONDERS)
    # reset_password was never requested, so unblock_sender is refused at confirmation already.
    assert {r.action: r.state for r in out.requests}["unblock_sender"] is RequestState.REFUSED
    inc2 = await open_incident(store, ALICE.__class__(id="user-x", user_principal_name="x@c.com", display_name="X"))
    out2 = await approvals.confirm(store, incident_id=inc2.id, actions=["reset_password", "revoke_sessions",
                                                                          "unblock_sender"],
                                   actor=DANA, reason="r", is_responder=RESPONDERS)
    await approvals.approve(store, request_id=out2.requests[0].batch_id, approver=EVAN, is_responder=RESPONDERS)
    for r in await approvals.claim(store, worker_id="w", limit=10):
        if r.incident_id != inc2.id:
            continue
        failed = ActionResult(action=ActionId(r.action), status=ActionStatus.FAILED, verified=False,
                              detail="Graph said no.") if r.action == "reset_password" else ok(r.action)
        await approvals.finish(store, request_id=r.id, worker_id="w", result=failed)
    assert await approvals.claim(store, worker_id="w", limit=10) == []
    unblock = next(r for r in await requests.for_incident(store, incident_id=inc2.id) if r.action == "unblock_sender")
    assert unblock.state is RequestState.REFUSED
    assert "password has not been reset" in unblock.result["detail"]  # type: ignore[index]


async def test_expiry_and_a_single_halfway_reminder(store: Store, second_store: Store) -> None:
    inc = await open_incident(store)
    out = await approvals.confirm(store, incident_id=inc.id, actions=["block_signin", "revoke_sessions"], actor=DANA,
                                  reason="r", is_responder=RESPONDERS, ttl=timedelta(minutes=30))
    t0 = out.requests[0].requested_at
    assert await approvals.due_reminders(store, now=t0 + timedelta(minutes=14)) == []
    reminders = await asyncio.gather(approvals.due_reminders(store, now=t0 + timedelta(minutes=16)),
                                     approvals.due_reminders(second_store, now=t0 + timedelta(minutes=16)))
    assert sorted(len(r) for r in reminders) == [0, 1]
    assert [r.action for r in reminders[0] + reminders[1]] == ["block_signin"]
    assert await approvals.due_reminders(store, now=t0 + timedelta(minutes=20)) == []
    assert await approvals.expire_due(store, now=t0 + timedelta(minutes=29)) == []
    [expired] = await approvals.expire_due(store, now=t0 + timedelta(minutes=31))
    assert expired.action == "block_signin" and expired.state is RequestState.EXPIRED
    assert await approvals.expire_due(store, now=t0 + timedelta(minutes=40)) == []
    assert await approvals.due_reminders(store, now=t0 + timedelta(minutes=40)) == []


async def test_release_gives_a_claimed_request_back(store: Store) -> None:
    inc = await open_incident(store)
    await approvals.confirm(store, incident_id=inc.id, actions=["revoke_sessions"], actor=DANA, reason="r",
                            is_responder=RESPONDERS)
    [req] = await approvals.claim(store, worker_id="w1")
    assert not await approvals.release(store, request_id=req.id, worker_id="w2")
    assert await approvals.release(store, request_id=req.id, worker_id="w1")
    [again] = await approvals.claim(store, worker_id="w2", now=utcnow())
    assert again.id == req.id and again.lease_owner == "w2"


async def test_a_teams_redelivery_is_recognised(store: Store) -> None:
    assert await approvals.seen_activity(store, activity_id="1:abc") is False
    assert await approvals.seen_activity(store, activity_id="1:abc") is True


async def test_finishing_the_last_requests_concurrently_still_contains_the_incident(
        store: Store, second_store: Store) -> None:
    for round_ in range(3):
        target = ALICE.__class__(id=f"race-{round_}", user_principal_name=f"r{round_}@c.com", display_name="R")
        inc = await open_incident(store, target)
        await approvals.confirm(store, incident_id=inc.id, actions=STANDARD, actor=DANA, reason="r",
                                is_responder=RESPONDERS)
        claimed = await approvals.claim(store, worker_id="w", limit=10)
        done = await asyncio.gather(*(
            approvals.finish(s, request_id=r.id, worker_id="w", result=ok(r.action))
            for s, r in zip((store, second_store) * 2, claimed, strict=True)))
        assert sum(d.incident_contained for d in done) == 1
        assert (await incidents.get(store, incident_id=inc.id)).status is IncidentStatus.CONTAINED  # type: ignore[union-attr]
    assert (await audit.verify(store)).ok
