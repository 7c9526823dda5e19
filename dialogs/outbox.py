"""One ordered outbound lane per Teams conversation: every post and card update Contain sends goes
through `Outbox.post`, so Teams' per-conversation rate limits are kept and a throttled post waits
rather than failing.

- Order: posts to one conversation leave in the order they were asked for (one at a time, first come
  first served); different conversations do not wait for each other.
- Pace: a lane keeps below Teams' documented per-bot, per-conversation limits (7 operations in 1 s, 8 in
  2 s, 60 in 30 s, 1,800 in an hour), so 429s are rare; a 429 that comes anyway is waited out for its
  Retry-After (or a backoff with jitter when it has none) and sent again, as are 412, 502, 503 and 504,
  which Teams also asks bots to retry. Nothing is dropped: a post fails only on an error no retry can
  fix, or when Teams still refuses it after `give_up_after_s` of trying.
- Coalescing: an update of a card still waiting behind others is skipped when a newer update of the
  same card is queued after it; the newer one carries the whole card, so nothing is lost, and a card
  that changes ten times while its lane is throttled is sent once.

Botbuilder-free: the gateway hands in closures that make the Bot Connector call, and errors are read by
their HTTP status (msrest's HttpOperationError carries the response).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

log = logging.getLogger("contain.outbox")

T = TypeVar("T")
# Teams' per bot, per conversation limits ("Optimize your bot with rate limiting in Teams"), as (seconds,
# operations). Contain's own copy on purpose: the connector stand-ins hold theirs, from the same page.
PACE: tuple[tuple[float, int], ...] = ((1.0, 7), (2.0, 8), (30.0, 60), (3600.0, 1800))
# Teams' size limit for a bot message: the whole activity, counted in UTF-16 ("Format your bot messages").
# Microsoft's figure has been 28 KB, 40 KB and lately 100 KB, and is approximate: Contain keeps to 40 KB
# of UTF-16, which is under every one of them however it is counted.
MESSAGE_LIMIT_UTF16_BYTES = 40 * 1024
RETRIED = frozenset({412, 429, 502, 503, 504})
MAX_SINGLE_WAIT_S = 60.0
# Our clock starts a call before Teams' does (the request is still on its way): keep this much clear.
PACE_MARGIN_S = 0.1


def fit_card(card: dict[str, Any], activity_size: Callable[[dict[str, Any]], int]) -> dict[str, Any]:
    """`card`, reduced (cards.fit.shrink) when the activity carrying it would be over Teams' size limit.
    `activity_size(card)` is the UTF-16 size of the whole activity as the Bot Connector receives it."""
    from cards.fit import shrink

    return shrink(card, lambda candidate: activity_size(candidate) <= MESSAGE_LIMIT_UTF16_BYTES)


def status_of(exc: BaseException) -> tuple[int | None, float | None]:
    """(HTTP status, Retry-After seconds) of a failed Bot Connector call, when the error carries them."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None) or getattr(exc, "status", None)
    headers = getattr(response, "headers", None) or {}
    return (int(status) if isinstance(status, int) else None), retry_after(headers.get("Retry-After"))


def retry_after(value: Any) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        return max(0.0, parsedate_to_datetime(str(value)).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


@dataclass
class _Lane:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sent: deque[float] = field(default_factory=deque)
    newest: dict[str, int] = field(default_factory=dict)  # card activity id -> ticket of its newest update
    waiting: int = 0


class Outbox:
    """Per-conversation lanes; see the module docstring. `clock`, `sleep` and `jitter` are seams for tests."""

    def __init__(self, *, pace: tuple[tuple[float, int], ...] = PACE, give_up_after_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        self.pace = pace
        self.give_up_after_s = give_up_after_s
        self._clock, self._sleep, self._jitter = clock, sleep, jitter
        self._lanes: dict[str, _Lane] = {}
        self._tickets = itertools.count()
        self.retries = 0  # calls sent again after a throttle or a transient error (for tests and logs)
        self.coalesced = 0  # card updates skipped because a newer one of the same card followed

    async def post(self, conversation: str, send: Callable[[], Awaitable[T]], *,
                   replaces: str | None = None) -> T | None:
        """Run `send` (one Bot Connector call) in `conversation`'s lane; its result, or None when it was
        an update of card `replaces` made redundant by a newer one."""
        lane = self._lanes.setdefault(conversation, _Lane())
        ticket = next(self._tickets)
        if replaces is not None:
            lane.newest[replaces] = ticket
        lane.waiting += 1
        try:
            async with lane.lock:
                if replaces is not None:
                    if lane.newest.get(replaces) != ticket:
                        self.coalesced += 1
                        return None
                    del lane.newest[replaces]
                return await self._send(lane, send)
        finally:
            lane.waiting -= 1
            self._forget_idle()

    async def _send(self, lane: _Lane, send: Callable[[], Awaitable[T]]) -> T:
        started = self._clock()
        for attempt in itertools.count():
            await self._keep_pace(lane)
            lane.sent.append(self._clock())
            try:
                return await send()
            except Exception as exc:
                status, wait = status_of(exc)
                if status not in RETRIED or self._clock() - started > self.give_up_after_s:
                    raise
                if wait is None:  # exponential backoff with jitter, as Teams recommends
                    wait = min(MAX_SINGLE_WAIT_S, 0.5 * 2 ** min(attempt, 7)) * (0.5 + self._jitter())
                if status != 429 and attempt >= 5:
                    raise
                self.retries += 1
                log.info("the Bot Connector answered %s; sending again in %.1f s", status, wait)
                await self._sleep(min(wait, MAX_SINGLE_WAIT_S))
        raise AssertionError("unreachable")

    async def _keep_pace(self, lane: _Lane) -> None:
        while True:
            now = self._clock()
            longest = max(window for window, _ in self.pace)
            while lane.sent and lane.sent[0] <= now - longest:
                lane.sent.popleft()
            wait = 0.0
            for window, most in self.pace:
                recent = [t for t in lane.sent if t > now - window]
                if len(recent) >= most:
                    wait = max(wait, recent[-most] + window + PACE_MARGIN_S - now)
            if wait <= 0:
                return
            await self._sleep(wait)

    def _forget_idle(self) -> None:
        """Drop lanes nobody waits on whose last call is older than the longest window."""
        if len(self._lanes) < 256:
            return
        horizon = self._clock() - max(window for window, _ in self.pace)
        for key in [k for k, lane in self._lanes.items()
                    if not lane.waiting and not lane.newest and (not lane.sent or lane.sent[-1] < horizon)]:
            del self._lanes[key]
