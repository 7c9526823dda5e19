"""The one engine that runs containment: `run_claimed` takes action requests a worker already holds
(services.approvals.claim for the bot; `run_direct` below for the command line and benchmarks) and
runs them in as few round trips as the dependencies allow.

Per incident: every snapshot is read at once (reads that several actions need are made once), then
every independent write is sent at once; an action that waits for others (unblock_sender after
reset_password and revoke_sessions, see the catalog) starts as soon as their writes land, while they
verify. Each write is audited the moment its answer arrives, each result is recorded (and audited) as
soon as it is verified, and `on_progress` / `on_finished` hear about both.

Microsoft applies some changes with a delay (session revocation, replicated grant deletions, risk
still processing): verification reads back for up to `verify_wait_s` and then reports the change as
written, not yet visible, rather than failing or claiming it verified.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from services.actions import ACTIONS, Action, ActionContext, Applied, Refused, Write, catalog
from services.ports import TenantWrites
from services.store import incidents as incident_repo
from services.store import requests as request_repo
from services.store import snapshots as snapshot_repo
from services.store.db import Store, new_id, utcnow
from services.store.journal import RunJournal, record_write, start_direct_run
from services.store.records import ActionRequest, Incident, RequestState
from services.tenant.errors import TenantError
from services.vocabulary import ActionId, ActionResult, ActionStatus, Actor, UserRef, targets_by_action

log = logging.getLogger(__name__)

DEFAULT_VERIFY_WAIT_S = 20.0
NOT_YET_VISIBLE = catalog.NOT_YET_VISIBLE


@dataclasses.dataclass(frozen=True, slots=True)
class ActionProgress:
    """An action changed state before it finished (e.g. "running": its writes are on the way)."""

    action: ActionId
    state: str
    request_id: str | None = None


Progress = Callable[[ActionResult | ActionProgress], Awaitable[None] | None]
Finished = Callable[[ActionRequest, ActionResult], Awaitable[None]]


async def _tell(on_progress: Progress | None, event: ActionResult | ActionProgress) -> None:
    if on_progress is None:
        return
    try:
        out = on_progress(event)
        if inspect.isawaitable(out):
            await out
    except Exception:  # a card that fails to update must not stop containment
        log.warning("on_progress failed for %s", event.action, exc_info=True)


def _result(action: Action, status: ActionStatus, *, verified: bool, detail: str, applied: Applied | None = None,
            ) -> ActionResult:
    return ActionResult(action=action.id, status=status, verified=verified, detail=detail,
                        request_ids=tuple(applied.request_ids) if applied else (),
                        temporary_password=applied.secret if applied else None)


async def verify_within(action: Action, ctx: ActionContext, before: dict[str, Any] | None, wait_s: float
                        ) -> tuple[bool, tuple[str, ...]]:
    """Read back until the state shows the change and none of the flagged objects is left, or `wait_s`
    seconds have passed: (wanted state reached, flagged objects still shown). A flagged object the action
    has no write left for will not go away by waiting, so the read-back stops there."""
    deadline = time.monotonic() + max(wait_s, 0.0)
    delay = 0.25
    while True:
        fresh = ctx.fresh()
        after = await action.snapshot(fresh)
        verified, left = action.satisfied(fresh, after, before), action.remaining(fresh, after)
        if verified and not left:
            return True, ()
        remaining_s = deadline - time.monotonic()
        if remaining_s <= 0 or (left and not action.plan(fresh, after)):
            return verified, left
        await asyncio.sleep(min(delay, remaining_s))
        delay = min(delay * 2, 2.0)


def not_yet_visible(action: Action, wait_s: float) -> str:
    return (f"{NOT_YET_VISIBLE}: {action.done_sentence} The write was accepted, but the read-back does not show "
            f"it after {wait_s:g} s; Microsoft applies some changes with a delay, so check again shortly.")


async def execute_one(action: Action, ctx: ActionContext, snapshot: dict[str, Any],
                      on_applied: Callable[[bool], None] | None = None,
                      verify_wait_s: float = DEFAULT_VERIFY_WAIT_S) -> ActionResult:
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
        # The snapshot just read shows the wanted state: that read is the verification. Skipped only when
        # none of the flagged objects exist any more; one the action has no write for is a failure.
        verified = action.satisfied(ctx, snapshot, snapshot)
        left = action.remaining(ctx, snapshot)
        applied_(verified and not left)
        if left:
            return _result(action, ActionStatus.FAILED, verified=False,
                           detail=f"{action.spec.title} has no way to remove {_names(left)}; it is still there.")
        return _result(action, ActionStatus.SKIPPED, verified=verified, detail=action.nothing_to_do)
    try:
        applied = await action.apply(ctx, snapshot)
    except BaseException:
        applied_(False)
        raise
    applied_(applied.error is None)
    if applied.error is not None:
        status = ActionStatus.PARTIAL if applied.landed else ActionStatus.FAILED
        return _result(action, status, verified=False, detail=applied.error.sentence, applied=applied)
    try:
        verified, left = await verify_within(action, ctx, snapshot, verify_wait_s)
    except TenantError as exc:
        return _result(action, ActionStatus.SUCCEEDED, verified=False, applied=applied,
                       detail=f"{NOT_YET_VISIBLE}: {action.done_sentence} Could not read it back: {exc.sentence}")
    if left:
        return _result(action, ActionStatus.PARTIAL, verified=False, applied=applied,
                       detail=f"The read-back still shows {_names(left)}.")
    detail = action.done_sentence if verified else not_yet_visible(action, verify_wait_s)
    return _result(action, ActionStatus.SUCCEEDED, verified=verified, detail=detail, applied=applied)


def _names(items: Sequence[str]) -> str:
    return ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")


def resumed_result(result: ActionResult) -> ActionResult:
    """The result of a request taken over after its instance stopped, saying so. The earlier attempt may
    have written before it died; this run read first, so a wanted state that already holds is that write
    landing (or the account already being so): recorded as succeeded, with the read-back as the proof."""
    verified = "yes" if result.verified else "no"
    note = f"Resumed after an instance stopped; verified: {verified}."
    if result.status is ActionStatus.SKIPPED and result.verified:
        return dataclasses.replace(result, status=ActionStatus.SUCCEEDED,
                                   detail=f"{ACTIONS[ActionId(result.action)].done_sentence} {note}")
    return dataclasses.replace(result, detail=f"{result.detail} {note}".strip())


def _recorder(journal: RunJournal, *, incident: Incident, request: ActionRequest
              ) -> Callable[[Action, Write, str | None, TenantError | None], Awaitable[None]]:
    actor, approver = _actors(request)

    async def record(action: Action, write: Write, rid: str | None, error: TenantError | None) -> None:
        record_write(journal, actor=actor, action=action.id, target=incident.target_upn, summary=write.summary,
                     request_id=rid or (error.request_id if error else None),
                     error=error.sentence if error else None, incident_id=incident.id,
                     correlation_id=request.correlation_id, approver=approver)

    return record


def _actors(request: ActionRequest) -> tuple[Actor, Actor | None]:
    actor = Actor(request.requested_by_id, request.requested_by_name)
    approver = Actor(request.decided_by_id, request.decided_by_name or "") if request.decided_by_id else None
    return actor, approver


def context_for(*, tenant: Any, writer: TenantWrites, incident: Incident, user: UserRef,
                options: Mapping[str, Any] | None = None,
                succeeded: frozenset[ActionId] = frozenset(), override_unblock: bool = False,
                record: Any = None, clock: Callable[[], datetime] = utcnow) -> ActionContext:
    """The context of one request: the incident's start and cutoff, and what its findings flagged per
    action (services.vocabulary.targets_by_action), so an action addresses exactly those objects."""
    return ActionContext(tenant=tenant, writer=writer, user=user, since=incident.opened_at,
                         cutoff=incident.cutoff, options=dict(options or {}), clock=clock, succeeded=succeeded,
                         override_unblock=override_unblock, record=record,
                         flagged=targets_by_action(incident.investigation))


async def _user_of(tenant: Any, incident: Incident) -> UserRef:
    found = await tenant.get_user(user_id=incident.target_user_id)
    return found or UserRef(id=incident.target_user_id, user_principal_name=incident.target_upn,
                            display_name=incident.target_display_name)


async def run_claimed(requests: Sequence[ActionRequest], *, tenant: Any, writer: TenantWrites, store: Store,
                      worker_id: str,
                      options: Mapping[str, Any] | None = None, on_progress: Progress | None = None,
                      on_finished: Finished | None = None,
                      known: Mapping[str, tuple[Incident, UserRef]] | None = None,
                      verify_wait_s: float = DEFAULT_VERIFY_WAIT_S,
                      clock: Callable[[], datetime] = utcnow,
                      reads: Mapping[str, dict[str, Any]] | None = None) -> list[ActionResult]:
    """Run requests this worker holds (state RUNNING, lease_owner `worker_id`) and record each result.

    Returns one result per request that ran, in the order given. A request whose run raised something
    other than a tenant error is logged and left to its lease (another round takes it over, reading the
    state first). `known` maps incident ids to the incident and its target account when the caller
    already has them (reads saved); `reads` maps incident ids to a read memo already being filled (see
    run_direct); `on_finished(request, result)` is awaited once the result is committed."""
    journal = RunJournal(store)
    by_incident: dict[str, list[ActionRequest]] = {}
    for req in requests:
        by_incident.setdefault(req.incident_id, []).append(req)
    outcomes: dict[str, ActionResult] = {}

    async def one_incident(incident_id: str, reqs: list[ActionRequest]) -> None:
        run = _IncidentRun(tenant=tenant, writer=writer, store=store, journal=journal, worker_id=worker_id,
                           options=options,
                           on_progress=on_progress, on_finished=on_finished, verify_wait_s=verify_wait_s,
                           clock=clock, memo=(reads or {}).get(incident_id))
        outcomes.update(await run.run(incident_id, reqs, (known or {}).get(incident_id)))

    await asyncio.gather(*(one_incident(i, r) for i, r in by_incident.items()))
    await journal.drain()
    return [outcomes[r.id] for r in requests if r.id in outcomes]


@dataclasses.dataclass
class _IncidentRun:
    tenant: Any
    writer: TenantWrites
    store: Store
    journal: RunJournal
    worker_id: str
    options: Mapping[str, Any] | None
    on_progress: Progress | None
    on_finished: Finished | None
    verify_wait_s: float
    clock: Callable[[], datetime]
    memo: dict[str, Any] | None = None

    async def run(self, incident_id: str, reqs: list[ActionRequest], known: tuple[Incident, UserRef] | None
                  ) -> dict[str, ActionResult]:
        # What the incident's other requests did (read locally, while the snapshots go out).
        history = asyncio.ensure_future(request_repo.for_incident(self.store, incident_id=incident_id))
        incident = known[0] if known else await incident_repo.get(self.store, incident_id=incident_id)
        if incident is None:
            history.cancel()
            log.error("requests %s belong to no incident", [r.id for r in reqs])
            return {}
        target = known[1] if known else await _user_of(self.tenant, incident)
        mine = {r.id for r in reqs}
        base = context_for(tenant=self.tenant, writer=self.writer, incident=incident, user=target, options=self.options,
                           clock=self.clock)
        memo: dict[str, Any] = self.memo if self.memo is not None else {}
        loop = asyncio.get_running_loop()
        runnable = [r for r in reqs if not r.undo_of]
        landed: dict[ActionId, asyncio.Future[bool]] = {ActionId(r.action): loop.create_future() for r in runnable}
        succeeded: set[ActionId] = set()
        known_actions = set(ActionId.__members__.values())

        async def earlier_requests() -> tuple[frozenset[ActionId], set[str]]:
            everything = await history
            before = frozenset(ActionId(r.action) for r in everything
                               if r.state is RequestState.SUCCEEDED and r.action in known_actions)
            succeeded.update(before)
            # Actions never requested before in this incident may write unread (their first attempt only).
            return before, {r.action for r in everything if r.id not in mine}

        past = asyncio.ensure_future(earlier_requests())

        def on_applied(action_id: ActionId) -> Callable[[bool], None]:
            def tell(ok: bool) -> None:
                if ok:
                    succeeded.add(action_id)
                if action_id in landed and not landed[action_id].done():
                    landed[action_id].set_result(ok)
            return tell

        def ctx_of(req: ActionRequest, succeeded_now: frozenset[ActionId]) -> ActionContext:
            # One memo for the incident's actions: a read several of them need is made once.
            return dataclasses.replace(base, succeeded=succeeded_now, override_unblock=req.override,
                                       record=_recorder(self.journal, incident=incident, request=req), _memo=memo)

        async def one(req: ActionRequest) -> tuple[str, ActionResult] | None:
            action = ACTIONS[ActionId(req.action)]
            try:
                if req.undo_of:
                    await _tell(self.on_progress, ActionProgress(action.id, "running", req.id))
                    await asyncio.shield(past)
                    try:
                        result = await _undo(action, ctx_of(req, frozenset(succeeded)), self.store,
                                             original_request_id=req.undo_of)
                    except TenantError as exc:
                        result = _result(action, ActionStatus.FAILED, verified=False, detail=exc.sentence)
                else:
                    result = await self._run_action(req, action, past=past, ctx_of=ctx_of, landed=landed,
                                                    succeeded=succeeded, on_applied=on_applied)
            except Exception:
                log.exception("action %s (%s) raised; its lease will run out and another round retries it",
                              req.action, req.id)
                on_applied(action.id)(False)
                return None
            if req.resumed:
                result = resumed_result(result)
            _, approver = _actors(req)
            await self.journal.finish(request_id=req.id, worker_id=self.worker_id, result=result,
                                      target=incident.target_upn, approver=approver)
            await _tell(self.on_progress, result)
            if self.on_finished is not None:
                try:
                    await self.on_finished(req, result)
                except Exception:
                    log.warning("on_finished failed for %s", req.id, exc_info=True)
            return req.id, result

        done = await asyncio.gather(*(one(r) for r in reqs))
        return dict(d for d in done if d is not None)

    async def _run_action(self, req: ActionRequest, action: Action, *,
                          past: asyncio.Future[tuple[frozenset[ActionId], set[str]]],
                          ctx_of: Callable[[ActionRequest, frozenset[ActionId]], ActionContext],
                          landed: dict[ActionId, asyncio.Future[bool]], succeeded: set[ActionId],
                          on_applied: Callable[[ActionId], Callable[[bool], None]]) -> ActionResult:
        unread = False
        if action.writes_unread and not req.resumed:
            _, earlier = await asyncio.shield(past)
            unread = req.action not in earlier
        try:
            snap = dict(action.unread_snapshot) if unread else await action.snapshot(ctx_of(req, frozenset()))
        except TenantError as exc:
            on_applied(action.id)(False)
            return _result(action, ActionStatus.FAILED, verified=False, detail=exc.sentence)
        await asyncio.shield(past)
        ctx = ctx_of(req, frozenset(succeeded))
        # The snapshot is committed with the run's other store writes (before the result, the journal being
        # in order); an undoable action's is durable before anything is written, since its undo restores it.
        saved = asyncio.ensure_future(self.journal.snapshot(request_id=req.id, action=action.id, data=snap,
                                                            now=self.clock()))
        deps = [landed[d] for d in action.after if d in landed and d is not action.id]
        if deps:
            await asyncio.wait(deps)
            ctx = ctx_of(req, frozenset(succeeded))
        if action.undoable:
            await saved
        else:
            self.journal.track(saved)
        await _tell(self.on_progress, ActionProgress(action.id, "running", req.id))
        try:
            result = await execute_one(action, ctx, snap, on_applied(action.id), verify_wait_s=self.verify_wait_s)
        except TenantError as exc:
            result = _result(action, ActionStatus.FAILED, verified=False, detail=exc.sentence)
        on_applied(action.id)(False)  # no-op when already told; releases dependants after a failure
        return result


async def _undo(action: Action, ctx: ActionContext, store: Store, *, original_request_id: str) -> ActionResult:
    title = catalog.title(action.id)
    if not action.undoable:
        return _result(action, ActionStatus.REFUSED, verified=False,
                       detail=f"{title} cannot be undone through Microsoft's APIs.")
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
                   detail=f"Restored what {title.lower()} changed, from the snapshot taken before it ran.")


# -- the command line's way in: requests created and claimed at once, then the same engine ------------------

async def run_direct(*, tenant: Any, writer: TenantWrites, store: Store, incident: Incident, user: UserRef,
                     actions: Sequence[ActionId],
                     actor: Actor, approver: Actor | None = None, options: Mapping[str, Any] | None = None,
                     correlation_id: str | None = None, on_progress: Progress | None = None,
                     override_unblock: bool = False, reason: str = "Containment run.", undo_of: str | None = None,
                     verify_wait_s: float = DEFAULT_VERIFY_WAIT_S) -> list[ActionResult]:
    """Create requests for `actions` already claimed by a worker of this process (the operator confirmed
    on the terminal), then run them with `run_claimed`. One result per action, in the order given."""
    wanted = list(dict.fromkeys(ActionId(a) for a in actions))
    worker = f"run-{os.getpid()}-{new_id('w', 6)}"
    impacts = {a: catalog.impact(a, target_is_admin=incident.target_is_admin) for a in wanted}
    # The reads every snapshot needs go out while the requests are recorded: the run's shared memo is
    # filled by then (a read that fails is reported by the action that needs it, as in any run).
    memo: dict[str, Any] = {}
    early = dataclasses.replace(context_for(tenant=tenant, writer=writer, incident=incident, user=user,
                                            options=options), _memo=memo)

    async def warm(action_id: ActionId) -> None:
        with contextlib.suppress(Exception):
            await ACTIONS[action_id].snapshot(early)

    warming = [asyncio.ensure_future(warm(a)) for a in wanted if not ACTIONS[a].writes_unread and undo_of is None]
    try:
        claimed = await start_direct_run(store, incident=incident, actions=wanted, impacts=impacts, actor=actor,
                                         approver=approver, reason=reason, worker_id=worker,
                                         override_unblock=override_unblock, correlation_id=correlation_id,
                                         now=utcnow(), undo_of=undo_of)
    except BaseException:
        for task in warming:
            task.cancel()
        raise
    return await run_claimed(claimed, tenant=tenant, writer=writer, store=store, worker_id=worker, options=options,
                             on_progress=on_progress, known={incident.id: (incident, user)},
                             verify_wait_s=verify_wait_s, reads={incident.id: memo})


async def undo_request(*, tenant: Any, writer: TenantWrites, store: Store, request_id: str, actor: Actor,
                       approver: Actor | None = None,
                       correlation_id: str | None = None, reason: str = "Undo.") -> ActionResult:
    """Undo an earlier request from the command line (the bot confirms an undo through services.approvals
    with `undo_of`, and its worker runs it with `run_claimed`)."""
    original = await request_repo.get(store, request_id=request_id)
    if original is None:
        raise ValueError(f"There is no request {request_id}.")
    incident = await incident_repo.get(store, incident_id=original.incident_id)
    assert incident is not None
    user = await _user_of(tenant, incident)
    results = await run_direct(tenant=tenant, writer=writer, store=store, incident=incident, user=user,
                               actions=[ActionId(original.action)], actor=actor, approver=approver,
                               correlation_id=correlation_id, reason=reason, undo_of=request_id)
    return results[0]
