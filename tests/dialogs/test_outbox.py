"""The outbox: one ordered lane per conversation that keeps Teams' pace, waits out Retry-After, retries
transient errors, never drops a post, and skips card updates a newer update of the same card replaces."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from dialogs.outbox import Outbox, retry_after, status_of


class Clock:
    """Fake time: sleeping advances it (and lets other tasks run)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class Response:
    def __init__(self, status: int, retry: str | None = None) -> None:
        self.status_code = status
        self.headers = {"Retry-After": retry} if retry is not None else {}


class ConnectorError(Exception):
    """Shaped like msrest's HttpOperationError: the response rides on the exception."""

    def __init__(self, status: int, retry: str | None = None) -> None:
        super().__init__(f"Operation returned an invalid status code {status}")
        self.response = Response(status, retry)


def outbox(clock: Clock) -> Outbox:
    return Outbox(clock=clock, sleep=clock.sleep, jitter=lambda: 0.5)


def call(log: list[str], name: str, *, fail: list[Exception] | None = None, hold: asyncio.Event | None = None
         ) -> Callable[[], Awaitable[str]]:
    async def send() -> str:
        if hold is not None:
            await hold.wait()
        if fail:
            log.append(f"{name}!")
            raise fail.pop(0)
        log.append(name)
        return name

    return send


async def test_posts_to_one_conversation_leave_in_order_and_others_do_not_wait() -> None:
    clock, log = Clock(), []
    box = outbox(clock)
    gate = asyncio.Event()
    first = asyncio.create_task(box.post("thread", call(log, "a", hold=gate)))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(box.post("thread", call(log, name))) for name in "bcd"]
    other = await box.post("elsewhere", call(log, "x"))  # a busy lane does not hold up another
    assert other == "x" and log == ["x"]
    gate.set()
    assert [await t for t in (first, *rest)] == ["a", "b", "c", "d"]
    assert log == ["x", "a", "b", "c", "d"]


async def test_a_throttled_post_waits_for_retry_after_then_goes_out() -> None:
    clock, log = Clock(), []
    box = outbox(clock)
    assert await box.post("thread", call(log, "a", fail=[ConnectorError(429, "3")])) == "a"
    assert log == ["a!", "a"] and clock.slept == [3.0] and box.retries == 1


async def test_retry_after_as_a_date_and_without_one() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after(later) or 0) <= 30
    assert retry_after("2") == 2.0 and retry_after(None) is None and retry_after("soon") is None
    assert status_of(ConnectorError(429, "4")) == (429, 4.0)
    clock, log = Clock(), []
    box = outbox(clock)
    # No Retry-After: backoff grows (0.5 s, 1 s, 2 s with the jitter at its middle).
    errors: list[Exception] = [ConnectorError(503), ConnectorError(502), ConnectorError(429)]
    assert await box.post("thread", call(log, "a", fail=errors)) == "a"
    assert clock.slept == [0.5, 1.0, 2.0]


async def test_errors_no_retry_fixes_are_raised_at_once_and_transient_ones_after_a_few_tries() -> None:
    clock, log = Clock(), []
    box = outbox(clock)
    with pytest.raises(ConnectorError):
        await box.post("thread", call(log, "a", fail=[ConnectorError(403)]))
    assert log == ["a!"] and clock.slept == []
    with pytest.raises(ConnectorError):
        await box.post("thread", call(log, "b", fail=[ConnectorError(502) for _ in range(10)]))
    assert log.count("b!") == 6
    # The lane is not stuck behind a failure.
    assert await box.post("thread", call(log, "c")) == "c"


async def test_throttling_never_drops_a_post() -> None:
    clock, log = Clock(), []
    box = outbox(clock)
    errors: list[Exception] = [ConnectorError(429, "20") for _ in range(30)]
    assert await box.post("thread", call(log, "a", fail=errors)) == "a"
    assert log.count("a!") == 30 and log[-1] == "a"


async def test_the_lane_keeps_teams_pace() -> None:
    clock = Clock()
    box = outbox(clock)
    sent_at: list[float] = []

    async def send() -> None:
        sent_at.append(clock.now)

    for _ in range(10):
        await box.post("thread", send)
    # Seven in the first second; the eighth once a second has passed; the ninth once two have.
    assert sent_at[:7] == [0.0] * 7
    assert 1.0 < sent_at[7] < 1.2 and 2.0 < sent_at[8] < 2.2
    for window, most in ((1.0, 7), (2.0, 8)):
        assert all(sum(1 for t in sent_at if start <= t < start + window) <= most for start in sent_at)


async def test_an_update_superseded_while_waiting_is_skipped_and_posts_are_not() -> None:
    clock, log = Clock(), []
    box = outbox(clock)
    gate = asyncio.Event()
    busy = asyncio.create_task(box.post("thread", call(log, "post 1", hold=gate)))
    await asyncio.sleep(0)
    queued: list[asyncio.Task[Any]] = [
        asyncio.create_task(box.post("thread", call(log, "card A v1"), replaces="A")),
        asyncio.create_task(box.post("thread", call(log, "post 2"))),
        asyncio.create_task(box.post("thread", call(log, "card A v2"), replaces="A")),
        asyncio.create_task(box.post("thread", call(log, "card B v1"), replaces="B")),
        asyncio.create_task(box.post("thread", call(log, "card A v3"), replaces="A")),
    ]
    await asyncio.sleep(0)
    gate.set()
    results = [await busy, *[await t for t in queued]]
    assert log == ["post 1", "post 2", "card B v1", "card A v3"]
    assert results == ["post 1", None, "post 2", None, "card B v1", "card A v3"]
    assert box.coalesced == 2
    # An update with nothing newer behind it goes out.
    assert await box.post("thread", call(log, "card A v4"), replaces="A") == "card A v4"
