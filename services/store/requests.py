"""Action requests: one row per action in a confirmed set. The policy lives in services.approvals;
these are the reads and the guarded writes it is built from.

Every state change is a conditional UPDATE (`WHERE state = <expected>`) checked by rowcount, so two
instances, two responders or a double click produce exactly one transition.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.store.db import Store
from services.store.records import PENDING_STATES, ActionRequest, RequestState
from services.store.schema import action_requests


async def get(store: Store, *, request_id: str) -> ActionRequest | None:
    async with store.read() as conn:
        return await get_in(conn, request_id=request_id)


async def get_in(conn: AsyncConnection, *, request_id: str, lock: bool = False) -> ActionRequest | None:
    query = sa.select(action_requests).where(action_requests.c.id == request_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    return ActionRequest.from_row(row) if row else None


async def for_batch(store: Store, *, batch_id: str) -> list[ActionRequest]:
    async with store.read() as conn:
        return await for_batch_in(conn, batch_id=batch_id)


async def for_batch_in(conn: AsyncConnection, *, batch_id: str) -> list[ActionRequest]:
    return await _select(conn, action_requests.c.batch_id == batch_id)


async def for_incident(store: Store, *, incident_id: str) -> list[ActionRequest]:
    async with store.read() as conn:
        return await for_incident_in(conn, incident_id=incident_id)


async def for_incident_in(conn: AsyncConnection, *, incident_id: str) -> list[ActionRequest]:
    return await _select(conn, action_requests.c.incident_id == incident_id)


async def in_states(store: Store, *, states: Iterable[RequestState], limit: int = 500) -> list[ActionRequest]:
    async with store.read() as conn:
        return await _select(conn, action_requests.c.state.in_([s.value for s in states]), limit=limit)


async def _select(conn: AsyncConnection, *where: Any, limit: int | None = None) -> list[ActionRequest]:
    query = sa.select(action_requests).where(*where).order_by(action_requests.c.requested_at, action_requests.c.id)
    if limit is not None:
        query = query.limit(limit)
    return [ActionRequest.from_row(r) for r in (await conn.execute(query)).mappings().all()]


async def insert(conn: AsyncConnection, *, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(action_requests.insert(), rows)


async def transition(
    conn: AsyncConnection,
    *,
    request_id: str,
    from_states: Iterable[RequestState],
    values: dict[str, Any],
    extra_where: Iterable[Any] = (),
) -> bool:
    """Move one request out of one of `from_states`; False if someone else moved it first."""
    if "state" in values and isinstance(values["state"], RequestState):
        values = values | {"state": values["state"].value}
    result = await conn.execute(
        action_requests.update()
        .where(action_requests.c.id == request_id,
               action_requests.c.state.in_([s.value for s in from_states]), *extra_where)
        .values(**values)
    )
    return bool(result.rowcount == 1)


async def states_of_actions_in(conn: AsyncConnection, *, incident_id: str, actions: Iterable[str]
                               ) -> list[tuple[str, RequestState]]:
    """(action, state) of every request in the incident for one of `actions`."""
    rows = (await conn.execute(
        sa.select(action_requests.c.action, action_requests.c.state)
        .where(action_requests.c.incident_id == incident_id, action_requests.c.action.in_(list(actions)))
    )).all()
    return [(r.action, RequestState(r.state)) for r in rows]


def not_waiting_on(*, action: str, dependencies: Iterable[str]) -> Any:
    """A claim guard: a request for `action` without override is not claimable while a request for one of
    `dependencies` in the same incident is still pending."""
    c = action_requests.c
    dep = action_requests.alias("dep")
    waiting = (sa.exists().where(dep.c.incident_id == c.incident_id, dep.c.action.in_(list(dependencies)),
                                 dep.c.state.in_([s.value for s in PENDING_STATES])))
    return sa.not_(sa.and_(c.action == action, c.override.is_(False), waiting))


def _held_by(worker_id: str) -> Any:
    return action_requests.c.lease_owner == worker_id


async def end_lease(store: Store, *, request_id: str, owner: str, now: datetime) -> bool:
    """End the lease `owner` holds on a running request (its process died); False if it moved on."""
    async with store.write() as conn:
        return await transition(conn, request_id=request_id, from_states=[RequestState.RUNNING],
                                values={"lease_expires_at": now}, extra_where=[_held_by(owner)])


async def renew_lease(conn: AsyncConnection, *, request_id: str, worker_id: str, until: datetime) -> bool:
    """Extend the lease `worker_id` holds on a running request; False if it no longer holds it."""
    return await transition(conn, request_id=request_id, from_states=[RequestState.RUNNING],
                            values={"lease_expires_at": until}, extra_where=[_held_by(worker_id)])


async def give_back(conn: AsyncConnection, *, request_id: str, worker_id: str) -> bool:
    """Return a running request `worker_id` holds to APPROVED, lease cleared; False if it no longer holds it."""
    return await transition(conn, request_id=request_id, from_states=[RequestState.RUNNING],
                            values={"state": RequestState.APPROVED, "lease_owner": None, "lease_expires_at": None},
                            extra_where=[_held_by(worker_id)])


async def finish_held(conn: AsyncConnection, *, request_id: str, worker_id: str, state: RequestState,
                      result: dict[str, Any], now: datetime) -> bool:
    """Record the final `state` and `result` of a running request `worker_id` holds and clear its lease;
    False if another worker took it over (its state is then left to that worker)."""
    return await transition(conn, request_id=request_id, from_states=[RequestState.RUNNING],
                            values={"state": state, "result": result, "finished_at": now, "lease_owner": None,
                                    "lease_expires_at": None},
                            extra_where=[_held_by(worker_id)])


async def decide(conn: AsyncConnection, *, request_id: str, values: dict[str, Any], now: datetime) -> bool:
    """Apply a responder's decision (`values`) to an awaiting request whose deadline, if any, is still
    ahead of `now`; False if it was decided or expired first."""
    c = action_requests.c
    return await transition(conn, request_id=request_id, from_states=[RequestState.AWAITING_APPROVAL],
                            values=values, extra_where=[sa.or_(c.expires_at.is_(None), c.expires_at > now)])


async def expire(conn: AsyncConnection, *, request_id: str, now: datetime) -> bool:
    """Move an awaiting request whose deadline has passed by `now` to EXPIRED; False if it moved first
    (or has no deadline, or its deadline is still ahead)."""
    return await transition(conn, request_id=request_id, from_states=[RequestState.AWAITING_APPROVAL],
                            values={"state": RequestState.EXPIRED, "finished_at": now},
                            extra_where=[action_requests.c.expires_at <= now])


async def awaiting_past_deadline(conn: AsyncConnection, *, now: datetime, limit: int = 500) -> list[ActionRequest]:
    """Awaiting requests whose deadline has passed by `now`, locked like `lockable`."""
    c = action_requests.c
    return await lockable(conn, c.state == RequestState.AWAITING_APPROVAL.value, c.expires_at <= now, limit=limit)


async def awaiting_reminder(conn: AsyncConnection, *, now: datetime, limit: int = 500) -> list[ActionRequest]:
    """Awaiting requests past their reminder time, not yet expired and never reminded, locked like `lockable`."""
    c = action_requests.c
    return await lockable(conn, c.state == RequestState.AWAITING_APPROVAL.value, c.reminded_at.is_(None),
                          c.remind_at <= now, c.expires_at > now, limit=limit)


async def mark_reminded(conn: AsyncConnection, *, request_id: str, now: datetime) -> bool:
    """Record that an awaiting request's reminder went out; False if it was reminded or moved first."""
    return await transition(conn, request_id=request_id, from_states=[RequestState.AWAITING_APPROVAL],
                            values={"reminded_at": now}, extra_where=[action_requests.c.reminded_at.is_(None)])


async def lockable(conn: AsyncConnection, *where: Any, limit: int) -> list[ActionRequest]:
    """Rows matching `where`, locked for this transaction and skipping rows another transaction holds
    (PostgreSQL); SQLite's immediate write transaction already excludes other writers."""
    query = (sa.select(action_requests).where(*where)
             .order_by(action_requests.c.requested_at, action_requests.c.id).limit(limit))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [ActionRequest.from_row(r) for r in (await conn.execute(query)).mappings().all()]


def in_batch(batch_id: str) -> Any:
    """A claim guard: only the requests of one batch (the command line runs what it confirmed or approved)."""
    return action_requests.c.batch_id == batch_id


def claimable(now: datetime) -> Any:
    """Approved, or running under a lease that has run out (its worker is presumed dead)."""
    c = action_requests.c
    return sa.or_(c.state == RequestState.APPROVED.value,
                  sa.and_(c.state == RequestState.RUNNING.value, c.lease_expires_at < now))
