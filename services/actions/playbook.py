"""Running containment actions: a set at once (`run_actions`), one claimed request (`run_one`), or the
undo of an earlier request (`undo_request`).

A set runs in as few round trips as the dependencies allow: every snapshot read at once (reads
that several actions need are made once), then every independent write at once; an action that
must wait (unblock_sender after reset_password and revoke_sessions) starts as soon as those
finish, while the others verify. Each write is audited the moment its answer arrives, each action's
result is recorded (and audited) as soon as it is verified, and `on_progress` hears about both.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services import approvals
from services.actions import ACTIONS, Action, ActionContext, Applied, Refused, Write
from services.actions.records import (
    RunJournal,
    record_write,
    save_snapshots,
    start_direct_run,
    succeeded_in_incident,
)
from services.ports import TenantWrites
from services.store import incidents as incident_repo
from services.store import requests as request_repo
from services.store import snapshots as snapshot_repo
from services.store.db import Store, new_id, utcnow
from services.store.records import ActionRequest, Incident
from services.tenant.errors import TenantError
from services.vocabulary import ActionId, ActionResult, ActionStatus, Actor, UserRef, targets_by_action

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActionProgress:
    """An action changed state before it finished (e.g. "running": its writes are on the way)."""

    action: ActionId
    state: str


Progress = Callable[[ActionResult | ActionProgress], Awaitable[None] | None]


async def _tell(on_progress: Progress | None, event: ActionResult | ActionProgress) -> None:
    if on_progress is None:
        return
    try:
        out = on_progress(event)
        if inspect.isawaitable(out):
            await out
    except Exception:  # a card that fails to update must not stop containment
        log.warning("on_progress failed for %s", event.action, exc_info=True)


def order(actions: Sequence[ActionId]) -> list[ActionId]:
    """The actions, once each, in a stable order (dependencies are awaited, not sorted, at run time)."""
    return list(dict.fromkeys(ActionId(a) for a in actions))


def _result(action: Action, status: ActionStatus, *, verified: bool, detail: str, applied: Applied | None = None,
            ) -> ActionResult:
    return ActionResult(action=action.id, status=status, verified=verified, detail=detail,
                        request_ids=tuple(applied.request_ids) if applied else (),
                        temporary_password=applied.secret if applied else None)


async def execute_one(action: Action, ctx: ActionContext, snapshot: dict[str, Any],
                      on_applied: Callable[[bool], None] | None = None) -> ActionResult:
    """Check, plan, apply and verify one action from a snapshot already taken. `on_applied(ok)` is
    told as soon as the writes are done (before verification), so dependent actions can start."""
    def applied_(ok: bool) -> None:
        if on_applied is not None:
            on_applied(ok)

    try:
        action.check(ctx, snapshot)
    except Refused as refusal:
        applied_(False)
        return _result(action, ActionStatus.REFUSED, verified=False, detail=refusal.sentence)
    if not action.plan(ctx, snapshot):
        # The snapshot just read shows the wanted state: that read is the verification.
        verified = action.satisfied(ctx, snapshot, snapshot)
        applied_(verified)
        return _result(action, ActionStatus.SKIPPED, verified=verified, detail=action.nothing_to_do)
    try:
        applied = await action.apply(ctx, snapshot)
    except BaseException:
        applied_(False)
        raise
    applied_(applied.error is None)
    if applied.error is not None:
        return _result(action, ActionStatus.FAILED, verified=False, detail=applied.error.sentence, applied=applied)
    try:
        verified = await action.verify(ctx, snapshot)
    except TenantError as exc:
        return _result(action, ActionStatus.SUCCEEDED, verified=False, applied=applied,
                       detail=f"{action.done_sentence} Could not read it back: {exc.sentence}")
    detail = action.done_sentence if verified else f"{action.done_sentence} The read-back does not show it yet."
    return _result(action, ActionStatus.SUCCEEDED, verified=verified, detail=detail, applied=applied)


def _recorder(journal: RunJournal, *, actor: Actor, approver: Actor | None, incident: Incident,
              correlation_id: str | None) -> Callable[[Action, Write, str | None, TenantError | None], Awaitable[None]]:
    async def record(action: Action, write: Write, rid: str | None, error: TenantError | None) -> None:
        record_write(journal, actor=actor, action=action.id, target=incident.target_upn, summary=write.summary,
                           request_id=rid or (error.request_id if error else None),
                           error=error.sentence if error else None, incident_id=incident.id,
                           correlation_id=correlation_id, approver=approver)

    return record


def context_for(*, tenant: Any, writer: TenantWrites, incident: Incident, user: UserRef, options: Mapping[str,
                Any] | None = None,
                succeeded: frozenset[ActionId] = frozenset(), override_unblock: bool = False,
                record: Any = None, clock: Callable[[], datetime] = utcnow) -> ActionContext:
    return ActionContext(tenant=tenant, writer=writer, user=user, since=incident.opened_at,
                         cutoff=incident.cutoff, options=dict(options or {}), clock=clock, succeeded=succeeded,
                         override_unblock=override_unblock, record=record,
                         flagged=targets_by_action(incident.investigation))


async def run_actions(*, tenant: Any, writer: TenantWrites, store: Store, incident: Incident, user: UserRef,
                      actions: Sequence[ActionId],
                      actor: Actor, approver: Actor | None = None, options: Mapping[str, Any] | None = None,
                      correlation_id: str | None = None, on_progress: Progress | None = None,
                      override_unblock: bool = False, reason: str = "Containment run.",
                      clock: Callable[[], datetime] = utcnow) -> list[ActionResult]:
    """Run `actions` on `user` for `incident` and return one result per action, in the order given.

    No approval round happens here: the caller has it (the command line asks on the terminal; the bot
    goes through services.approvals and `run_one`)."""
    wanted = order(actions)
    now = clock()
    worker = f"run-{os.getpid()}-{new_id('w', 6)}"
    journal = RunJournal(store)
    ctx = context_for(tenant=tenant, writer=writer, incident=incident, user=user, options=options,
                      override_unblock=override_unblock, clock=clock,
                      record=_recorder(journal, actor=actor, approver=approver, incident=incident,
                                       correlation_id=correlation_id))

    # Actions never requested before in this incident that may write unread (local read, no round trip).
    earlier = {r.action for r in await request_repo.for_incident(store, incident_id=incident.id)}
    unread = {a for a in wanted if ACTIONS[a].writes_unread and a.value not in earlier}

    async def bookkeeping() -> tuple[dict[ActionId, str], frozenset[ActionId]]:
        ids = await start_direct_run(store, incident=incident, actions=wanted, actor=actor, approver=approver,
                                     reason=reason, worker_id=worker, override_unblock=override_unblock,
                                     correlation_id=correlation_id, now=now)
        return ids, await succeeded_in_incident(store, incident_id=incident.id)

    async def snapshot(action_id: ActionId) -> dict[str, Any]:
        if action_id in unread:
            return dict(ACTIONS[action_id].unread_snapshot)
        return await ACTIONS[action_id].snapshot(ctx)

    # Round one: every snapshot (shared reads made once) while the requests are recorded; the actions
    # that write unread have their snapshot at once, so their writes start in this round.
    book_task = asyncio.ensure_future(bookkeeping())
    snap_tasks = {a: asyncio.ensure_future(snapshot(a)) for a in wanted}
    try:
        request_ids, before = await book_task
    except BaseException:
        for task in snap_tasks.values():
            task.cancel()
        raise
    ctx = _with_succeeded(ctx, before)

    async def snapshot_saved(action_id: ActionId) -> Any:
        try:
            snap = await snap_tasks[action_id]
        except Exception as exc:  # reported as the action's failure below
            return exc
        await save_snapshots(store, taken={request_ids[action_id]: (action_id, snap)}, now=clock())
        return snap

    # An action that others wait for (reset_password before unblock_sender) signals when its writes
    # are done, not when it is verified: the dependent writes overlap the verification round.
    loop = asyncio.get_running_loop()
    landed: dict[ActionId, asyncio.Future[bool]] = {a: loop.create_future() for a in wanted}
    succeeded = set(before)

    def on_applied(action_id: ActionId) -> Callable[[bool], None]:
        def tell(ok: bool) -> None:
            if ok:
                succeeded.add(action_id)
            if not landed[action_id].done():
                landed[action_id].set_result(ok)
        return tell

    async def run(action_id: ActionId) -> ActionResult:
        action = ACTIONS[action_id]
        snap = await snapshot_saved(action_id)
        deps = [landed[d] for d in action.after if d in landed]
        if deps:
            await asyncio.wait(deps)
        if isinstance(snap, BaseException):
            sentence = (snap.sentence if isinstance(snap, TenantError)
                        else f"Reading the state failed ({type(snap).__name__}).")
            result = _result(action, ActionStatus.FAILED, verified=False, detail=sentence)
        else:
            await _tell(on_progress, ActionProgress(action_id, "running"))
            mine = ctx if not deps else _with_succeeded(ctx, frozenset(succeeded))
            try:
                result = await execute_one(action, mine, snap, on_applied(action_id))
            except TenantError as exc:
                result = _result(action, ActionStatus.FAILED, verified=False, detail=exc.sentence)
        on_applied(action_id)(False)  # no-op when already told; releases dependants after a failure
        await journal.finish(request_id=request_ids[action_id], worker_id=worker, result=result,
                             target=incident.target_upn, approver=approver)
        await _tell(on_progress, result)
        return result

    results = await asyncio.gather(*(run(a) for a in wanted))
    await journal.drain()
    return list(results)


def _with_succeeded(ctx: ActionContext, succeeded: frozenset[ActionId]) -> ActionContext:
    from dataclasses import replace

    return replace(ctx, succeeded=succeeded)


async def _user_of(tenant: Any, incident: Incident) -> UserRef:
    found = await tenant.get_user(user_id=incident.target_user_id)
    return found or UserRef(id=incident.target_user_id, user_principal_name=incident.target_upn,
                            display_name=incident.target_display_name)


async def run_one(*, tenant: Any, writer: TenantWrites, store: Store, request: ActionRequest, worker_id: str,
                  options: Mapping[str, Any] | None = None, on_progress: Progress | None = None,
                  record_result: bool = True) -> ActionResult:
    """Run one claimed request (services.approvals.claim): read, write what is still needed, verify,
    and (unless `record_result` is False) record the result with services.approvals.finish.

    A request resumed after another worker died reads the target's state first like any other, so a
    write that already landed is not sent again. A request with `undo_of` restores that request's
    snapshot instead."""
    incident = await incident_repo.get(store, incident_id=request.incident_id)
    if incident is None:
        raise ValueError(f"Request {request.id} belongs to no incident.")
    actor = Actor(request.requested_by_id, request.requested_by_name)
    approver = Actor(request.decided_by_id, request.decided_by_name or "") if request.decided_by_id else None
    user = await _user_of(tenant, incident)
    succeeded = await succeeded_in_incident(store, incident_id=incident.id)
    journal = RunJournal(store)
    ctx = context_for(tenant=tenant, writer=writer, incident=incident, user=user, options=options, succeeded=succeeded,
                      override_unblock=request.override,
                      record=_recorder(journal, actor=actor, approver=approver, incident=incident,
                                       correlation_id=request.correlation_id))
    action = ACTIONS[ActionId(request.action)]
    await _tell(on_progress, ActionProgress(action.id, "running"))
    try:
        if request.undo_of:
            result = await _undo(action, ctx, store, original_request_id=request.undo_of)
        else:
            snap = await action.snapshot(ctx)
            await snapshot_repo.save(store, action_request_id=request.id, action=action.id.value, data=snap)
            result = await execute_one(action, ctx, snap)
    except TenantError as exc:
        result = _result(action, ActionStatus.FAILED, verified=False, detail=exc.sentence)
    await journal.drain()
    if record_result:
        await approvals.finish(store, request_id=request.id, worker_id=worker_id, result=result)
    await _tell(on_progress, result)
    return result


async def _undo(action: Action, ctx: ActionContext, store: Store, *, original_request_id: str) -> ActionResult:
    if not action.undoable:
        return _result(action, ActionStatus.REFUSED, verified=False,
                       detail=f"{action.title} cannot be undone through Microsoft's APIs.")
    original = await snapshot_repo.original(store, action_request_id=original_request_id)
    if original is None:
        return _result(action, ActionStatus.REFUSED, verified=False,
                       detail="There is no snapshot of the state before that action, so there is nothing to restore.")
    before = original.data
    applied = await action.undo(ctx, before)
    if applied.error is not None:
        return _result(action, ActionStatus.FAILED, verified=False, detail=applied.error.sentence, applied=applied)
    if not applied.landed:
        return _result(action, ActionStatus.SKIPPED, verified=True,
                       detail="Skipped: the state already matches the snapshot.", applied=applied)
    fresh = ctx.fresh()
    now = await action.snapshot(fresh)
    verified = not action.undo_plan(fresh, before, now)
    return _result(action, ActionStatus.SUCCEEDED, verified=verified, applied=applied,
                   detail=f"Restored what {action.title.lower()} changed, from the snapshot taken before it ran.")


async def undo_request(*, tenant: Any, writer: TenantWrites, store: Store, request_id: str, actor: Actor,
                       approver: Actor | None = None,
                       correlation_id: str | None = None, reason: str = "Undo.") -> ActionResult:
    """Undo an earlier request directly (the command line; the bot confirms an undo through
    services.approvals with `undo_of`, then calls `run_one`)."""
    from services.store import requests as request_repo

    original = await request_repo.get(store, request_id=request_id)
    if original is None:
        raise ValueError(f"There is no request {request_id}.")
    incident = await incident_repo.get(store, incident_id=original.incident_id)
    assert incident is not None
    action = ACTIONS[ActionId(original.action)]
    worker = f"undo-{os.getpid()}-{new_id('w', 6)}"
    ids = await start_direct_run(store, incident=incident, actions=[action.id], actor=actor, approver=approver,
                                 reason=reason, worker_id=worker, override_unblock=False,
                                 correlation_id=correlation_id, now=utcnow(), undo_of=request_id)
    user = await _user_of(tenant, incident)
    journal = RunJournal(store)
    ctx = context_for(tenant=tenant, writer=writer, incident=incident, user=user,
                      record=_recorder(journal, actor=actor, approver=approver, incident=incident,
                                       correlation_id=correlation_id))
    try:
        result = await _undo(action, ctx, store, original_request_id=request_id)
    except TenantError as exc:
        result = _result(action, ActionStatus.FAILED, verified=False, detail=exc.sentence)
    await journal.drain()
    await approvals.finish(store, request_id=ids[action.id], worker_id=worker, result=result)
    return result
