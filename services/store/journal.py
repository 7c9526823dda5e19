"""What the action engine (services.actions.engine) keeps in the store while it runs: snapshots, the
audit row written right after each write, and each result, group-committed by `RunJournal`; and the
request rows of a direct run (the command line, benchmarks), created already claimed.

The approval policy itself stays in services.approvals, which the bot path goes through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.store import audit, requests
from services.store.db import Store, new_id, utcnow
from services.store.incidents import mark_contained_if_done
from services.store.records import ActionRequest, Incident, RequestState
from services.store.schema import action_requests, snapshots
from services.store.scrub import scrub
from services.vocabulary import ActionId, ActionResult, Actor, Impact

LEASE = timedelta(minutes=10)
Entry = Callable[[AsyncConnection], Awaitable[None]]


async def start_direct_run(store: Store, *, incident: Incident, actions: Iterable[ActionId],
                           impacts: Mapping[ActionId, Impact], actor: Actor,
                           approver: Actor | None, reason: str, worker_id: str, override_unblock: bool,
                           correlation_id: str | None, now: datetime, undo_of: str | None = None
                           ) -> list[ActionRequest]:
    """Rows for a run that needs no approval round (the command line: the operator confirmed on the
    terminal), already claimed by `worker_id`: the requests, in the order of `actions`, ready for
    services.actions.engine.run_claimed."""
    batch_id = new_id("bat")
    decider = approver or actor
    rows: list[dict[str, Any]] = []
    ids: dict[ActionId, str] = {}
    for action in actions:
        ids[action] = new_id("req", 12)
        rows.append({
            "id": ids[action], "incident_id": incident.id, "batch_id": batch_id, "action": action.value,
            "impact": impacts[action].value, "state": RequestState.RUNNING.value,
            "requested_by_id": actor.id, "requested_by_name": actor.name, "reason": reason[:500],
            "requested_at": now, "expires_at": None, "remind_at": None, "reminded_at": None,
            "decided_by_id": decider.id, "decided_by_name": decider.name, "decided_at": now,
            "override": override_unblock and action is ActionId.UNBLOCK_SENDER, "lease_owner": worker_id,
            "lease_expires_at": now + LEASE, "attempts": 1, "started_at": now, "finished_at": None,
            "result": None, "undo_of": undo_of, "correlation_id": correlation_id,
        })
    async with store.write() as conn:
        await conn.execute(action_requests.insert(), rows)
        for row in rows:
            await audit.append(conn, actor=actor, event="request.confirmed", target=incident.target_upn,
                               outcome="running", incident_id=incident.id, correlation_id=correlation_id, at=now,
                               detail=f"{actor.name} ran {row['action']} ({row['id']}, {row['impact']} impact): "
                                      f"{reason}")
            if row["override"]:
                await audit.append(conn, actor=actor, event="request.override", target=incident.target_upn,
                                   outcome="override", incident_id=incident.id, correlation_id=correlation_id,
                                   at=now, detail=f"{actor.name} overrode the unblock_sender precondition "
                                                  f"(reset_password and revoke_sessions first): {reason}")
    return [ActionRequest.from_row(row) for row in rows]  # type: ignore[arg-type]


def record_write(journal: RunJournal, *, actor: Actor, action: ActionId, target: str, summary: str,
                 request_id: str | None, error: str | None, incident_id: str, correlation_id: str | None,
                 approver: Actor | None = None) -> None:
    """The audit row for one write, queued the moment its answer (or failure) arrives and committed with
    whatever else is waiting; the run does not end before it is committed (RunJournal.drain)."""
    by = f" (approved by {approver.name})" if approver and approver.id != actor.id else ""
    journal.audit_soon(actor=actor, event=f"action.{action.value}", target=target,
                       outcome="failed" if error else "applied", incident_id=incident_id,
                       correlation_id=correlation_id, request_ids=[request_id] if request_id else [],
                       detail=(f"{summary} Failed: {error}" if error else summary) + by)


class RunJournal:
    """Serialises one run's store writes and commits whatever is waiting together in one transaction
    (group commit): the audit rows of writes that land at the same moment, and action results.
    Concurrent SQLite writers otherwise queue on the file lock, and SQLite's busy handler sleeps
    between tries, which costs more than the writes themselves.

    Every caller waits until its entry is committed, so a row is durable before the action moves on."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = asyncio.Lock()
        self._pending: list[tuple[Entry, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._unawaited: list[asyncio.Future[None]] = []

    async def audit(self, **fields: Any) -> None:
        await self.audit_soon(**fields)

    def audit_soon(self, **fields: Any) -> asyncio.Future[None]:
        """Queue an audit row now; the returned future completes when it is committed. The caller may
        carry on meanwhile (the next network round need not wait for the disk)."""
        async def entry(conn: AsyncConnection) -> None:
            await audit.append(conn, **fields)

        fut = self._enqueue(entry)
        self._unawaited.append(fut)
        return fut

    def track(self, fut: asyncio.Future[None]) -> None:
        """Have `drain` wait for `fut` too (an entry whose caller did not wait for it)."""
        self._unawaited.append(fut)

    async def drain(self) -> None:
        """Wait until every queued entry is committed (raises the first failure)."""
        waiting, self._unawaited = self._unawaited, []
        if waiting:
            await asyncio.gather(*waiting)

    async def finish(self, *, request_id: str, worker_id: str, result: ActionResult, target: str,
                     approver: Actor | None) -> None:
        """Record an action's result like services.approvals.finish does (the request leaves RUNNING if
        this worker holds it, the result is audited either way, the incident becomes contained when
        every request is final), batched with the run's other store writes."""
        data = scrub(result.to_json())  # to_json leaves the temporary password out

        async def entry(conn: AsyncConnection) -> None:
            now = utcnow()
            req = await requests.get_in(conn, request_id=request_id)
            if req is None:
                return
            held = await requests.finish_held(conn, request_id=request_id, worker_id=worker_id,
                                              state=RequestState(result.status.value), result=data, now=now)
            detail = str(data.get("detail", ""))
            if approver is not None and approver.id != req.requested_by_id:
                detail = f"{detail} (approved by {approver.name})"
            if not held:
                detail += f"; {worker_id} had lost this request, so its state was left unchanged"
            await audit.append(conn, actor=Actor(req.requested_by_id, req.requested_by_name),
                               event=f"action.{req.action}", target=target, outcome=result.status.value,
                               incident_id=req.incident_id, correlation_id=req.correlation_id,
                               request_ids=data.get("request_ids") or (), detail=detail, at=now)
            if held and await mark_contained_if_done(conn, incident_id=req.incident_id, now=now):
                await audit.append(conn, actor=audit.SYSTEM_ACTOR, event="incident.contained", target=target,
                                   outcome="contained", incident_id=req.incident_id, at=now,
                                   detail=f"Every action of incident {req.incident_id} has finished, none failed, "
                                          "and every finding is addressed or accepted.")

        await self._submit(entry)

    async def snapshot(self, *, request_id: str, action: ActionId, data: dict[str, Any], now: datetime) -> None:
        """Keep the state read before an action's writes (what an undo restores), group-committed."""
        async def entry(conn: AsyncConnection) -> None:
            await conn.execute(snapshots.insert(), [{"action_request_id": request_id, "action": action.value,
                                                     "taken_at": now, "data": scrub(data)}])

        await self._submit(entry)

    async def _submit(self, entry: Entry) -> None:
        await self._enqueue(entry)

    def _enqueue(self, entry: Entry) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, fut))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())
        return fut

    async def _flush(self) -> None:
        while self._pending:
            async with self.lock:
                batch, self._pending = self._pending, []
                try:
                    async with self.store.write() as conn:
                        for entry, _ in batch:
                            await entry(conn)
                except Exception as exc:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)
