"""What happens to an action request after it is decided: timers (expiry, the halfway reminder) and
exactly-once execution (claim with a lease, heartbeat, finish, recovery after a crash).

A worker `claim`s approved requests; the lease says how long it may work before another instance
presumes it dead and takes the request over. Whoever takes over sees `ActionRequest.resumed` and must
read the target's state before writing, so a write that already landed is not repeated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.actions import catalog
from services.store import audit, dedupe, requests
from services.store.db import Connection, Store, utcnow
from services.store.incidents import mark_contained_if_done, target_upn_in
from services.store.records import PENDING_STATES, ActionRequest, RequestState
from services.store.scrub import scrub
from services.vocabulary import ActionId, ActionResult, Actor

UNBLOCK_DEPENDENCIES = tuple(p.action for p in catalog.spec(ActionId.UNBLOCK_SENDER).prerequisites)
_FINAL_RESULT_STATES = {RequestState.SUCCEEDED, RequestState.FAILED, RequestState.SKIPPED, RequestState.REFUSED,
                        RequestState.PARTIAL}


def unblock_refusal(missing: list[ActionId]) -> str:
    return catalog.spec(ActionId.UNBLOCK_SENDER).refusal(missing)


async def unblock_blockers(conn: Connection, *, incident_id: str, batch: tuple[str, ...] = ()
                           ) -> tuple[list[ActionId], list[ActionId]]:
    """(missing, pending): dependencies with no success and nothing on the way, and those still on the way.
    Actions in `batch` (being confirmed together with unblock_sender) count as on the way."""
    rows = await requests.states_of_actions_in(conn, incident_id=incident_id,
                                               actions=[a.value for a in UNBLOCK_DEPENDENCIES])
    missing: list[ActionId] = []
    pending: list[ActionId] = []
    for dep in UNBLOCK_DEPENDENCIES:
        states = {state for action, state in rows if action == dep.value}
        if RequestState.SUCCEEDED in states:
            continue
        if states & PENDING_STATES or dep.value in batch:
            pending.append(dep)
        else:
            missing.append(dep)
    return missing, pending


def _not_waiting_on_dependencies() -> Any:
    """Claim guard: an unblock_sender without override is not claimable while a dependency is pending."""
    return requests.not_waiting_on(action=ActionId.UNBLOCK_SENDER.value,
                                   dependencies=[a.value for a in UNBLOCK_DEPENDENCIES])


async def _target(conn: Connection, incident_id: str) -> str:
    return await target_upn_in(conn, incident_id)


async def claim(store: Store, *, worker_id: str, lease_s: float = 60.0, limit: int = 10,
                now: datetime | None = None, batch_id: str | None = None) -> list[ActionRequest]:
    """Take up to `limit` runnable requests for this worker: approved ones, and running ones whose lease
    ran out (only those of `batch_id` when given: the command line runs what it confirmed or approved).
    Each request is handed to exactly one worker at a time."""
    now = now or utcnow()
    lease_until = now + timedelta(seconds=lease_s)
    claimed: list[ActionRequest] = []
    async with store.write() as conn:
        guards = [requests.claimable(now), _not_waiting_on_dependencies()]
        if batch_id is not None:
            guards.append(requests.in_batch(batch_id))
        for req in await requests.lockable(conn, *guards, limit=limit):
            target = await _target(conn, req.incident_id)
            if req.action == ActionId.UNBLOCK_SENDER.value and not req.override:
                missing, _ = await unblock_blockers(conn, incident_id=req.incident_id)
                if missing:
                    await _refuse(conn, req, unblock_refusal(missing), target=target, now=now)
                    continue
            values = {"state": RequestState.RUNNING, "lease_owner": worker_id, "lease_expires_at": lease_until,
                      "attempts": req.attempts + 1, "started_at": req.started_at or now}
            if not await requests.transition(conn, request_id=req.id, from_states=PENDING_STATES,
                                             values=values, extra_where=[requests.claimable(now)]):
                continue
            if req.state is RequestState.RUNNING:
                await audit.append(
                    conn, actor=audit.SYSTEM_ACTOR, event="request.resumed", target=target, outcome="running",
                    incident_id=req.incident_id, correlation_id=req.correlation_id, at=now,
                    detail=f"{req.action} ({req.id}) resumed by {worker_id} after {req.lease_owner}'s lease "
                           f"ran out; attempt {req.attempts + 1}.")
            claimed.append(dataclasses.replace(req, **values))  # type: ignore[arg-type]
    return claimed


async def _refuse(conn: Connection, req: ActionRequest, sentence: str, *, target: str, now: datetime) -> None:
    result = {"action": req.action, "status": "refused", "verified": False, "detail": sentence, "request_ids": []}
    if await requests.transition(conn, request_id=req.id, from_states=PENDING_STATES,
                                 values={"state": RequestState.REFUSED, "result": result, "finished_at": now}):
        await audit.append(conn, actor=audit.SYSTEM_ACTOR, event="request.refused", target=target, outcome="refused",
                           incident_id=req.incident_id, correlation_id=req.correlation_id, at=now,
                           detail=f"{req.action} ({req.id}): {sentence}")


async def heartbeat(store: Store, *, request_id: str, worker_id: str, lease_s: float = 60.0,
                    now: datetime | None = None) -> bool:
    """Extend this worker's lease; False means the worker no longer holds it and must stop."""
    now = now or utcnow()
    async with store.write() as conn:
        return await requests.renew_lease(conn, request_id=request_id, worker_id=worker_id,
                                          until=now + timedelta(seconds=lease_s))


async def release(store: Store, *, request_id: str, worker_id: str) -> bool:
    """Give a claimed request back untouched (e.g. on shutdown before any write)."""
    async with store.write() as conn:
        return await requests.give_back(conn, request_id=request_id, worker_id=worker_id)


@dataclass(frozen=True, slots=True)
class Finished:
    ok: bool  # False: this worker had lost the lease; the request's state was left to its new holder
    message: str
    request: ActionRequest | None
    incident_contained: bool = False


def _result_json(result: ActionResult | Mapping[str, Any]) -> dict[str, Any]:
    data = result.to_json() if isinstance(result, ActionResult) else dict(result)
    data.pop("temporary_password", None)
    return scrub(data)


async def finish(store: Store, *, request_id: str, worker_id: str, result: ActionResult | Mapping[str, Any],
                 now: datetime | None = None) -> Finished:
    """Record an action's outcome if this worker still holds the request, and audit it either way
    (the side effect happened). The lease may have run out: as long as nobody took the request over,
    the result is still the truth."""
    now = now or utcnow()
    data = _result_json(result)
    state = RequestState(data.get("status", ""))
    if state not in _FINAL_RESULT_STATES:
        raise ValueError(f"an action result's status must be one of {sorted(_FINAL_RESULT_STATES)}")
    async with store.write() as conn:
        req = await requests.get_in(conn, request_id=request_id)
        if req is None:
            return Finished(False, f"There is no request {request_id}.", None)
        held = await requests.finish_held(conn, request_id=request_id, worker_id=worker_id, state=state,
                                          result=data, now=now)
        detail = str(data.get("detail", ""))
        if req.decided_by_name and req.decided_by_id != req.requested_by_id:
            detail = f"{detail} (approved by {req.decided_by_name})".strip()
        if not held:
            detail += f"; {worker_id} had lost this request, so its state was left unchanged"
        target = await _target(conn, req.incident_id)
        contained = held and await mark_contained_if_done(conn, incident_id=req.incident_id, now=now)
        await audit.append(conn, actor=Actor(req.requested_by_id, req.requested_by_name), event=f"action.{req.action}",
                           target=target, outcome=state.value, incident_id=req.incident_id,
                           correlation_id=req.correlation_id, request_ids=data.get("request_ids") or (),
                           detail=detail, at=now)
        if not held:
            return Finished(False, f"This worker no longer holds request {request_id}; its result was audited only.",
                            await requests.get_in(conn, request_id=request_id))
        if contained:
            await audit.append(conn, actor=audit.SYSTEM_ACTOR, event="incident.contained", target=target,
                               outcome="contained", incident_id=req.incident_id, at=now,
                               detail=f"Every action of incident {req.incident_id} has finished, none failed, "
                                          "and every finding is addressed or accepted.")
        return Finished(True, f"{req.action} {state.value}.", await requests.get_in(conn, request_id=request_id),
                        incident_contained=contained)


async def in_flight_after_crash(store: Store, *, now: datetime | None = None) -> list[ActionRequest]:
    """Requests that were running when their worker stopped renewing its lease (for the recovery report)."""
    now = now or utcnow()
    return [r for r in await requests.in_states(store, states=[RequestState.RUNNING])
            if r.lease_expires_at is not None and r.lease_expires_at < now]


async def expire_due(store: Store, *, now: datetime | None = None) -> list[ActionRequest]:
    """Expire every awaiting request past its deadline; returns those this call expired."""
    now = now or utcnow()
    expired: list[ActionRequest] = []
    async with store.write() as conn:
        for req in await requests.awaiting_past_deadline(conn, now=now, limit=500):
            if await requests.expire(conn, request_id=req.id, now=now):
                await audit.append(conn, actor=audit.SYSTEM_ACTOR, event="request.expired",
                                   target=await _target(conn, req.incident_id), outcome="expired",
                                   incident_id=req.incident_id, correlation_id=req.correlation_id, at=now,
                                   detail=f"{req.action} ({req.id}) expired without a second responder's approval.")
                expired.append(dataclasses.replace(req, state=RequestState.EXPIRED, finished_at=now))
    return expired


async def due_reminders(store: Store, *, now: datetime | None = None) -> list[ActionRequest]:
    """Awaiting requests past half their time to live that were never reminded; each is returned once."""
    now = now or utcnow()
    reminded: list[ActionRequest] = []
    async with store.write() as conn:
        for req in await requests.awaiting_reminder(conn, now=now, limit=500):
            if await requests.mark_reminded(conn, request_id=req.id, now=now):
                reminded.append(dataclasses.replace(req, reminded_at=now))
    return reminded


async def seen_activity(store: Store, *, activity_id: str, now: datetime | None = None) -> bool:
    """True if this Teams activity id was handled before (a redelivery); records it otherwise."""
    return await dedupe.seen_activity(store, activity_id=activity_id, now=now)
