"""What every containment action shares: its context, its writes, and the apply loop that never
repeats a write that already landed.

An action is: snapshot (read the target's state, keeping each thing whole), plan (a pure function
from a snapshot to the writes still needed), apply (run those writes), verify (read again and check
the state is what the action wants) and, where the service allows, undo (writes planned from the
snapshot taken before the action ran).

Retries happen here, not at the transport: after a write fails with 503, a timeout or a dropped
connection, the action reads the state again and re-plans, so a write whose response was lost but
which landed is not sent twice.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from services.actions import catalog
from services.actions.writer import retry_after_of
from services.tenant.errors import RETRYABLE_STATUSES, TenantError
from services.vocabulary import ActionId, Impact, UserRef

MAX_ATTEMPTS = 4
_TRANSPORT_CODES = frozenset({"timeout", "connect", "transport"})

WriteRecorder = Callable[["Action", "Write", "str | None", "TenantError | None"], Awaitable[None]]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ActionContext:
    """Everything an action needs about one run. `tenant` reads (retrying freely); `writer` writes
    (one attempt, 429 aside). `since` is when the incident opened: a state reached after it counts as
    this incident's work (a second run of the same action is then skipped)."""

    tenant: Any
    user: UserRef
    since: datetime
    writer: Any = None
    cutoff: datetime | None = None  # first suspicious sign-in, as the incident recorded it
    options: Mapping[str, Any] = field(default_factory=dict)
    clock: Callable[[], datetime] = utcnow
    # Actions that already succeeded in this incident (unblock_sender's precondition), and the override.
    succeeded: frozenset[ActionId] = frozenset()
    override_unblock: bool = False
    record: WriteRecorder | None = None
    # The objects the incident's findings flagged, by action (services.vocabulary.targets_by_action): an
    # action addresses exactly these, and may report `skipped` only when none of them exist any more.
    flagged: Mapping[ActionId, tuple[str, ...]] = field(default_factory=dict)
    _memo: dict[str, asyncio.Future[Any]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def w(self) -> Any:
        return self.writer if self.writer is not None else self.tenant

    def targets(self, action: ActionId) -> tuple[str, ...] | None:
        """What the findings flagged for `action`; None when no finding named any (asked for directly)."""
        return self.flagged.get(action)

    @property
    def mailbox(self) -> str:
        return self.user.user_principal_name

    def fresh(self) -> ActionContext:
        """The same context with nothing remembered: verification must read the service again."""
        from dataclasses import replace

        return replace(self, _memo={})

    async def once(self, key: str, read: Callable[[], Awaitable[Any]]) -> Any:
        """One read shared by every action of a run that needs it (the snapshot round stays one round
        trip and costs each read once)."""
        fut = self._memo.get(key)
        if fut is None:
            fut = asyncio.ensure_future(read())
            self._memo[key] = fut
        return await asyncio.shield(fut)


@dataclass(frozen=True)
class Write:
    """One change to make. `key` names what it changes (stable across re-plans); `summary` is the
    audit line; `send(writer)` performs it and returns the service's request id."""

    key: str
    summary: str
    send: Callable[[Any], Awaitable[str | None]]


@dataclass
class Applied:
    """What apply did: request ids of writes that landed, how many, and the failure that stopped it."""

    request_ids: list[str] = field(default_factory=list)
    landed: int = 0
    error: TenantError | None = None
    secret: str | None = field(default=None, repr=False)  # reset_password's temporary password only

    @property
    def failed(self) -> bool:
        return self.error is not None


class Refused(Exception):
    """A precondition is not met; `sentence` says why."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def retryable(exc: TenantError) -> bool:
    # 404 on a write: the thing may be gone already (someone else removed it); read again and see.
    if exc.status in RETRYABLE_STATUSES or exc.status == 404:
        return True
    return exc.status is None and exc.code in _TRANSPORT_CODES


def retry_delay(exc: TenantError, attempt: int) -> float:
    after = retry_after_of(exc)
    if after is not None:
        return min(after, 30.0)
    if exc.status == 429:
        return 1.0
    if exc.status == 404:
        return 0.0
    return 0.1 * 2.0 ** attempt + random.uniform(0, 0.1)


class Action:
    """Base class: subclasses set the class attributes and implement snapshot, plan and satisfied."""

    id: ClassVar[ActionId]
    # An action whose write is wanted whatever the state (a password reset, a session revocation) may
    # skip the read before its FIRST attempt in an incident: nothing of ours can have landed yet, and
    # its verification compares with the incident's start. Any later attempt reads first. This takes
    # one round trip off the path of the actions that others wait for.
    writes_unread: ClassVar[bool] = False
    unread_snapshot: ClassVar[dict[str, Any]] = {}
    # What "nothing to do" means, for the skipped result's sentence.
    nothing_to_do: ClassVar[str] = "Nothing to do: the account is already in the wanted state."
    done_sentence: ClassVar[str] = "Done."

    # Title, impact, undo and prerequisites live in the catalog (services.actions.catalog), not here.
    @property
    def spec(self) -> catalog.ActionSpec:
        return catalog.spec(self.id)

    @property
    def impact(self) -> Impact:
        return self.spec.impact()

    @property
    def after(self) -> tuple[ActionId, ...]:
        """Actions that must finish first when they are in the same run."""
        return self.spec.waits_for

    @property
    def undoable(self) -> bool:
        """Whether it can be undone (the catalog says by what; undo_plan restores the snapshot)."""
        return self.spec.undoable

    # -- to implement -----------------------------------------------------------------------------
    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        raise NotImplementedError

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        raise NotImplementedError

    def satisfied(self, ctx: ActionContext, after: dict[str, Any], before: dict[str, Any] | None) -> bool:
        """Is the state read in `after` what the action wants? Default: nothing left to write."""
        return not self.plan(ctx, after)

    def remaining(self, ctx: ActionContext, snapshot: dict[str, Any]) -> tuple[str, ...]:
        """The objects the findings flagged for this action (ctx.targets) that `snapshot` still shows, as
        names for a sentence. Default: none (an action whose wanted state is the whole check)."""
        return ()

    def check(self, ctx: ActionContext, snapshot: dict[str, Any]) -> None:
        """Raise Refused when a precondition is not met. Default: none."""

    def undo_plan(self, ctx: ActionContext, before: dict[str, Any], now: dict[str, Any]) -> list[Write]:
        raise NotImplementedError(f"{self.id.value} cannot be undone.")

    # -- shared behaviour -------------------------------------------------------------------------
    async def apply(self, ctx: ActionContext, snapshot: dict[str, Any]) -> Applied:
        """Send the writes still needed; after a failure that may hide a landed write, read again and
        send only what is still missing."""
        return await self.execute(ctx, snapshot, lambda snap: self.plan(ctx, snap))

    async def verify(self, ctx: ActionContext, before: dict[str, Any] | None = None) -> bool:
        """Read the state again (nothing remembered) and check it."""
        return (await self.read_back(ctx, before))[0]

    async def read_back(self, ctx: ActionContext, before: dict[str, Any] | None = None
                        ) -> tuple[bool, tuple[str, ...]]:
        """Read the state again (nothing remembered): (wanted state reached, flagged objects still there)."""
        fresh = ctx.fresh()
        after = await self.snapshot(fresh)
        return self.satisfied(fresh, after, before), self.remaining(fresh, after)

    async def undo(self, ctx: ActionContext, before: dict[str, Any]) -> Applied:
        """Restore what the snapshot `before` recorded (only what this action changed)."""
        if not self.undoable:
            raise NotImplementedError(f"{self.id.value} cannot be undone.")
        now = await self.snapshot(ctx.fresh())
        return await self.execute(ctx, now, lambda snap: self.undo_plan(ctx, before, snap))

    async def execute(self, ctx: ActionContext, snapshot: dict[str, Any],
                      planner: Callable[[dict[str, Any]], list[Write]]) -> Applied:
        applied = Applied()
        writes = planner(snapshot)
        attempt = 0
        while writes:
            outcomes = await asyncio.gather(*(self._send(ctx, w) for w in writes))
            failed: list[tuple[Write, TenantError]] = []
            for write, (rid, error) in zip(writes, outcomes, strict=True):
                if error is None:
                    applied.landed += 1
                    if rid:
                        applied.request_ids.append(rid)
                else:
                    if error.request_id:
                        applied.request_ids.append(error.request_id)
                    failed.append((write, error))
            if not failed:
                break
            hard = [e for _, e in failed if not retryable(e)]
            attempt += 1
            if hard or attempt >= MAX_ATTEMPTS:
                applied.error = (hard or [failed[-1][1]])[0]
                break
            await asyncio.sleep(max(retry_delay(e, attempt) for _, e in failed))
            # Read again: a write whose answer was lost may have landed. Re-send only what is missing.
            keys = {w.key for w, _ in failed}
            fresh = await self.snapshot(ctx.fresh())
            writes = [w for w in planner(fresh) if w.key in keys]
        return applied

    async def _send(self, ctx: ActionContext, write: Write) -> tuple[str | None, TenantError | None]:
        try:
            rid = await write.send(ctx.w)
        except TenantError as exc:
            if ctx.record is not None:
                await ctx.record(self, write, None, exc)
            return None, exc
        if ctx.record is not None:
            await ctx.record(self, write, rid, None)
        return rid, None


def at_or_after(value: datetime | None, since: datetime) -> bool:
    """`value >= since` at the services' one-second resolution (Graph drops sub-seconds)."""
    if value is None:
        return False
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value >= since.astimezone(UTC).replace(microsecond=0)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def parse_iso(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
