"""The Bot Connector stand-ins refuse what Teams refuses: a message over the size limit (413,
MessageSizeTooBig) and a conversation posted to too fast (429, Throttled, with Retry-After); the guard in
front of the Playground forwards everything else untouched."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from sandbox.teams_connector import MESSAGE_LIMIT_UTF16_BYTES, ConnectorGuard, ConnectorLimits, conversation_key
from tests.support.connector import RecordingConnector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _activity(text: str) -> str:
    return json.dumps({"type": "message", "text": text})


def test_an_activity_over_the_size_limit_is_refused_as_teams_does() -> None:
    limits = ConnectorLimits()
    # Counted in UTF-16: 20,480 characters of JSON is the most that fits in 40 KB.
    assert limits.check("c", _activity("x" * (MESSAGE_LIMIT_UTF16_BYTES // 2 - 100))) is None
    refusal = limits.check("c", _activity("x" * (MESSAGE_LIMIT_UTF16_BYTES // 2)))
    assert refusal is not None and refusal.status == 413
    assert json.loads(refusal.text or "") == {"error": {"code": "MessageSizeTooBig",
                                                        "message": "Message size too large."}}


def test_posting_too_fast_to_one_conversation_is_throttled_with_retry_after() -> None:
    clock = Clock()
    limits = ConnectorLimits(clock=clock)
    assert all(limits.check("thread", None) is None for _ in range(7))
    refusal = limits.check("thread", None)  # an eighth within one second
    assert refusal is not None and refusal.status == 429
    assert json.loads(refusal.text or "")["error"]["code"] == "Throttled"
    assert refusal.headers["Retry-After"] == "1"
    assert limits.check("other thread", None) is None  # limits are per conversation
    clock.now += 1.0
    assert limits.check("thread", None) is None  # the eighth in two seconds
    refusal = limits.check("thread", None)  # a ninth within two seconds
    assert refusal is not None and refusal.status == 429
    clock.now += 1.0
    assert limits.check("thread", None) is None
    # Sixty in thirty seconds: keeping to four a second, the sixty-first waits for the window.
    sent = 9
    while sent < 60:
        clock.now += 0.26
        assert limits.check("thread", None) is None
        sent += 1
    clock.now += 0.26
    refusal = limits.check("thread", None)
    assert refusal is not None and int(refusal.headers["Retry-After"]) >= 10
    assert limits.refused == [(429, "thread")] * 3


def test_the_conversation_a_call_counts_against() -> None:
    thread = "19:x@thread.tacv2;messageid=1"
    assert conversation_key(f"/v3/conversations/{thread}/activities/7") == thread
    assert conversation_key("/_connector/v3/conversations/a:1/activities") == "a:1"
    assert conversation_key("/v3/conversations") == "create-conversation"


async def test_the_recording_connector_enforces_the_limits() -> None:
    connector = await RecordingConnector().start()
    try:
        connector.limits.hold("a:1", 30)
        async with aiohttp.ClientSession() as http:
            url = f"{connector.url}v3/conversations/a:1/activities"
            async with http.post(url, json={"type": "message", "text": "hi"}) as throttled:
                assert throttled.status == 429 and throttled.headers["Retry-After"] == "30"
            async with http.post(f"{connector.url}v3/conversations/a:2/activities",
                                 json={"type": "message", "text": "x" * 30_000}) as too_big:
                assert too_big.status == 413
        assert connector.total == 0  # refused calls are not recorded as sent
    finally:
        await connector.stop()


async def test_the_guard_in_front_of_the_playground_forwards_and_refuses() -> None:
    upstream = await RecordingConnector().start()  # stands in for the Playground's own connector
    upstream.limits = ConnectorLimits(windows=())  # which enforces nothing
    guard = await ConnectorGuard(upstream.url).start()
    try:
        async with aiohttp.ClientSession() as http:
            async def post(text: str) -> tuple[int, Any]:
                async with http.post(f"{guard.url}/v3/conversations/a%3A1/activities",
                                     json={"type": "message", "text": text}) as response:
                    return response.status, await response.json()

            assert await post("hello") == (201, {"id": "act-1"})
            assert (await post("x" * 30_000))[0] == 413
            statuses = [(await post(f"m{i}"))[0] for i in range(8)]
        assert statuses == [201] * 6 + [429, 429]  # seven in one second, the first included
        assert upstream.texts("a:1") == ["hello"] + [f"m{i}" for i in range(6)]
        assert [s for s, _ in guard.limits.refused] == [413, 429, 429]
    finally:
        await guard.stop()
        await upstream.stop()
