"""Pollers for Identity Protection risky users and Defender alerts_v2, with a cursor that survives restarts.

The cursor per source (store table `cursors`) is JSON: `at`, the newest alert time seen; `seen`, the
ids of the alerts seen within the overlap window before `at`; `floor`, where the very first poll
started. Each poll asks the tenant for alerts after `at - overlap`, so an alert that becomes visible
late, or shares its timestamp with one already processed, is still picked up, and skips the ids in
`seen`, so nothing is handed on twice. The store's unique (source, alert id) is the backstop when an
instance dies between ingesting an alert and saving the cursor, or two instances poll at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.alerts.intake import Alert, Decision, IntakeResult, IntakeStatus, ingest
from services.store import cursors
from services.store.db import Store
from services.tenant.errors import TenantError
from services.tenant.facade import Tenant

log = logging.getLogger(__name__)

RISKY_SOURCE = "identity_protection"
DEFENDER_SOURCE = "defender"
RISK_RANK = {"low": 1, "medium": 2, "high": 3}
# Graph makes detections visible minutes after their timestamp; look back this far on every poll.
DEFAULT_OVERLAP = timedelta(minutes=10)
OnResult = Callable[[IntakeResult], Awaitable[None]]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _parse(raw: str) -> datetime:
    return datetime.fromisoformat(raw).astimezone(UTC)


@dataclass
class Cursor:
    at: datetime
    floor: datetime
    seen: dict[str, datetime] = field(default_factory=dict)

    def since(self, overlap: timedelta) -> datetime:
        return max(self.at - overlap, self.floor)

    def mark(self, alert_id: str, at: datetime) -> None:
        self.seen[alert_id] = at
        self.at = max(self.at, at)

    def to_json(self, overlap: timedelta) -> str:
        keep = {k: _iso(v) for k, v in self.seen.items() if v >= self.at - overlap}
        return json.dumps({"at": _iso(self.at), "floor": _iso(self.floor), "seen": keep}, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Cursor:
        data = json.loads(raw)
        return cls(at=_parse(data["at"]), floor=_parse(data["floor"]),
                   seen={k: _parse(v) for k, v in data.get("seen", {}).items()})


async def load_cursor(store: Store, *, name: str, now: datetime, initial_lookback: timedelta) -> Cursor:
    """The stored cursor; on the very first poll, start `initial_lookback` before now (default: now, so
    installing Contain does not open a thread for every old detection)."""
    raw = await cursors.get(store, name=name)
    if raw:
        try:
            return Cursor.from_json(raw)
        except (ValueError, KeyError, TypeError):
            log.warning("alert cursor %s is unreadable; starting again from now", name)
    # Whole seconds, one back: the tenant stamps alerts to the second, and one raised in the same second
    # as the first poll must not fall below the floor.
    start = (now - initial_lookback).replace(microsecond=0) - timedelta(seconds=1)
    return Cursor(at=start, floor=start)


async def _poll(*, store: Store, tenant: Tenant, name: str, now: datetime, overlap: timedelta,
                initial_lookback: timedelta, investigate: bool,
                fetch: Callable[[datetime], Awaitable[Sequence[Alert]]]) -> list[IntakeResult]:
    cursor = await load_cursor(store, name=name, now=now, initial_lookback=initial_lookback)
    since = cursor.since(overlap)
    fetched = [a for a in await fetch(since) if a.created_at is not None and a.created_at > since]
    fetched.sort(key=lambda a: (a.created_at, a.alert_id))
    results: list[IntakeResult] = []
    try:
        for alert in fetched:
            if alert.alert_id in cursor.seen:
                continue
            # A TenantError stops here: the cursor keeps what was done, the rest comes on the next poll.
            result = await ingest(store=store, tenant=tenant, alert=alert, now=now, investigate=investigate)
            assert alert.created_at is not None
            cursor.mark(alert.alert_id, alert.created_at)
            if result.status is not IntakeStatus.DUPLICATE:
                results.append(result)
    finally:
        await cursors.put(store, name=name, value=cursor.to_json(overlap), now=now)
    return results


async def poll_risky_users(*, store: Store, tenant: Tenant, min_risk: str, now: datetime | None = None,
                           overlap: timedelta = DEFAULT_OVERLAP, initial_lookback: timedelta = timedelta(0),
                           investigate: bool = True) -> list[IntakeResult]:
    """Identity Protection users at risk (`atRisk`, level >= min_risk) whose risk changed since the
    cursor. The alert id is the user id plus riskLastUpdatedDateTime: a new detection is a new alert."""
    floor_rank = RISK_RANK[min_risk.lower()]

    async def fetch(since: datetime) -> list[Alert]:
        out = []
        for r in await tenant.list_risky_users(updated_after=since):
            if r.risk_state != "atRisk" or RISK_RANK.get((r.risk_level or "").lower(), 0) < floor_rank:
                continue
            if r.last_updated is None or not r.id:
                continue
            detail = f" ({r.risk_detail})" if r.risk_detail and r.risk_detail != "none" else ""
            out.append(Alert(source=RISKY_SOURCE, alert_id=f"{r.id}:{_iso(r.last_updated)}", account=r.id,
                             severity=(r.risk_level or "").lower(), created_at=r.last_updated,
                             title=f"Identity Protection rates the account at {r.risk_level} risk{detail}."))
        return out

    return await _poll(store=store, tenant=tenant, name=f"alerts.{RISKY_SOURCE}", now=now or datetime.now(UTC),
                       overlap=overlap, initial_lookback=initial_lookback, investigate=investigate, fetch=fetch)


async def poll_defender_alerts(*, store: Store, tenant: Tenant, now: datetime | None = None,
                               overlap: timedelta = DEFAULT_OVERLAP, initial_lookback: timedelta = timedelta(0),
                               investigate: bool = True) -> list[IntakeResult]:
    """Defender alerts_v2 created since the cursor that name a user in their evidence (one alert per
    user named; resolved alerts are skipped)."""

    async def fetch(since: datetime) -> list[Alert]:
        out = []
        for a in await tenant.list_alerts(created_after=since):
            if not a.id or (a.status or "").lower() == "resolved":
                continue
            users = list(dict.fromkeys(account for uid, upn in a.users if (account := uid or upn)))
            for account in users:
                alert_id = a.id if len(users) == 1 else f"{a.id}:{account}"
                out.append(Alert(source=DEFENDER_SOURCE, alert_id=alert_id, account=account,
                                 severity=(a.severity or "medium").lower(), created_at=a.created,
                                 title=a.title or "Microsoft Defender alert"))
        return out

    return await _poll(store=store, tenant=tenant, name=f"alerts.{DEFENDER_SOURCE}", now=now or datetime.now(UTC),
                       overlap=overlap, initial_lookback=initial_lookback, investigate=investigate, fetch=fetch)


class AlertPoller:
    """Runs both pollers every `interval_s` and hands each new thread or reply to `on_result` (the bot
    posts it). One failing source does not stop the other; errors are logged, the loop goes on."""

    def __init__(self, *, store: Store, tenant: Tenant, interval_s: float, min_risk: str,
                 on_result: OnResult | None = None, investigate: bool = True, overlap: timedelta = DEFAULT_OVERLAP,
                 initial_lookback: timedelta = timedelta(0),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store, self.tenant = store, tenant
        self.interval_s, self.min_risk = interval_s, min_risk
        self.on_result = on_result
        self.investigate, self.overlap, self.initial_lookback = investigate, overlap, initial_lookback
        self.clock = clock
        self.last_errors: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_runtime(cls, runtime: Any, *, on_result: OnResult | None = None) -> AlertPoller:
        s = runtime.settings
        return cls(store=runtime.store, tenant=runtime.tenant, interval_s=s.poll_interval_s,
                   min_risk=s.alert_min_risk, on_result=on_result)

    async def run_once(self) -> list[IntakeResult]:
        now = self.clock()
        common: dict[str, Any] = {"store": self.store, "tenant": self.tenant, "now": now, "overlap": self.overlap,
                                  "initial_lookback": self.initial_lookback, "investigate": self.investigate}
        outcomes = await asyncio.gather(poll_risky_users(min_risk=self.min_risk, **common),
                                        poll_defender_alerts(**common), return_exceptions=True)
        results: list[IntakeResult] = []
        for source, outcome in zip((RISKY_SOURCE, DEFENDER_SOURCE), outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                sentence = outcome.sentence if isinstance(outcome, TenantError) else type(outcome).__name__
                self.last_errors[source] = sentence
                log.warning("polling %s failed: %s", source, sentence, exc_info=not isinstance(outcome, TenantError))
                continue
            self.last_errors.pop(source, None)
            results.extend(outcome)
        # New threads first, so a reply found in the same round lands in a thread that exists.
        results.sort(key=lambda r: r.decision is not Decision.NEW_THREAD)
        for result in results:
            await self._deliver(result)
        return results

    async def _deliver(self, result: IntakeResult) -> None:
        if self.on_result is None or not result.needs_post:
            return
        try:
            await self.on_result(result)
        except Exception:
            log.exception("posting alert %s for incident %s failed", result.alert_id, result.incident_id)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="contain-alert-poller")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("alert poll round failed")
            await asyncio.sleep(self.interval_s)
