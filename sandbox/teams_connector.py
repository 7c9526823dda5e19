"""Teams' limits on what a bot posts, as the Bot Connector enforces them, for the stand-ins Contain is
exercised against: the recording connector of the tests and `ConnectorGuard`, the loopback proxy the
demo puts in front of each Microsoft 365 Agents Playground (whose own connector enforces neither).

Size. Teams answers 413 RequestEntityTooLarge, error code MessageSizeTooBig, when a bot message is over
its size limit, counted over the whole activity encoded as UTF-16 ("Format your bot messages"). The
figure Microsoft publishes has moved (about 28 KB on the Teams limits page, then 40 KB, lately 100 KB
with 80 KB advised) and is approximate, so the stand-ins hold the bot to the strictest reading that
every version allows: 40 KB of UTF-16, i.e. 20,480 characters of the activity's JSON as sent (msrest
escapes non-ASCII, so every character of the wire JSON is one UTF-16 code unit) - which also keeps
it under 28 KB counted any other way.

Rate. Teams answers 429 (code Throttled) when one bot posts to one conversation too fast ("Optimize
your bot with rate limiting"): per bot per thread, sends, replies and updates together may be at most
7 in any 1 s, 8 in 2 s, 60 in 30 s and 1,800 in an hour; creating conversations has the same limits.
The stand-ins answer with Retry-After (whole seconds until the window has room again).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from yarl import URL

MESSAGE_LIMIT_UTF16_BYTES = 40 * 1024
WINDOWS: tuple[tuple[float, int], ...] = ((1.0, 7), (2.0, 8), (30.0, 60), (3600.0, 1800))
CREATE = "create-conversation"  # the key creating conversations is counted under (per bot, not per thread)


def utf16_bytes(text: str) -> int:
    """Size of `text` encoded as UTF-16, as Teams counts a message."""
    return len(text.encode("utf-16-le"))


def error_body(code: str, message: str) -> dict[str, Any]:
    """The Bot Connector's error shape (botbuilder's ErrorResponse)."""
    return {"error": {"code": code, "message": message}}


def too_large() -> web.Response:
    return web.json_response(error_body("MessageSizeTooBig", "Message size too large."), status=413)


def throttled(retry_after_s: float) -> web.Response:
    response = web.json_response(error_body("Throttled", "Too many requests."), status=429)
    response.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    return response


@dataclass
class ConnectorLimits:
    """Per-conversation sliding windows and the size limit; `check` answers the refusal Teams would give,
    or None and counts the call. `hold` makes one conversation answer 429 for a while (tests)."""

    windows: tuple[tuple[float, int], ...] = WINDOWS
    size_limit: int = MESSAGE_LIMIT_UTF16_BYTES
    clock: Callable[[], float] = time.monotonic
    calls: dict[str, deque[float]] = field(default_factory=dict)
    held: dict[str, float] = field(default_factory=dict)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (status, conversation) of every refusal

    def check(self, key: str, body: str | None) -> web.Response | None:
        refusal = self._refusal(key, body)
        if refusal is not None:
            self.refused.append((refusal.status, key))
        return refusal

    def _refusal(self, key: str, body: str | None) -> web.Response | None:
        if body is not None and utf16_bytes(body) > self.size_limit:
            return too_large()
        now = self.clock()
        if self.held.get(key, 0.0) > now:
            return throttled(self.held[key] - now)
        calls = self.calls.setdefault(key, deque())
        longest = max((w for w, _ in self.windows), default=0.0)
        while calls and calls[0] <= now - longest:
            calls.popleft()
        wait = 0.0
        for window, most in self.windows:
            recent = [t for t in calls if t > now - window]
            if len(recent) >= most:
                wait = max(wait, recent[-most] + window - now)
        if wait > 0:
            return throttled(wait)
        calls.append(now)
        return None

    def hold(self, key: str, seconds: float) -> None:
        self.held[key] = self.clock() + seconds


def conversation_key(path: str) -> str:
    """The conversation a Bot Connector call counts against: `/v3/conversations/{id}/activities...`; a
    create-conversation call counts against the bot's creates."""
    parts = path.split("/")
    if "conversations" in parts:
        at = parts.index("conversations")
        if len(parts) > at + 2:
            return parts[at + 1]
    return CREATE


class ConnectorGuard:
    """A loopback proxy in front of a Bot Connector stand-in that lacks Teams' limits (the Playground's):
    the bot posts to the guard, the guard refuses what Teams would refuse and forwards the rest."""

    def __init__(self, upstream: str, *, limits: ConnectorLimits | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.limits = limits or ConnectorLimits()
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None

    async def start(self, port: int = 0) -> ConnectorGuard:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self._http = ClientSession(timeout=ClientTimeout(total=30))
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if request.method in ("POST", "PUT") and "/v3/conversations" in request.path:
            refusal = self.limits.check(conversation_key(request.path), raw.decode("utf-8", "replace"))
            if refusal is not None:
                return refusal
        assert self._http is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        target = URL(f"{self.upstream}{request.raw_path}", encoded=True)  # ids stay encoded as the bot sent them
        try:
            async with self._http.request(request.method, target, data=raw or None, headers=headers) as upstream:
                body = await upstream.read()
                kept = {k: v for k, v in upstream.headers.items()
                        if k.lower() not in ("content-length", "transfer-encoding", "content-encoding", "connection")}
                return web.Response(status=upstream.status, body=body, headers=kept)
        except (ClientError, TimeoutError):  # the Playground went away (Ctrl-C, the end of a test)
            return web.json_response(error_body("ServiceError", "The Playground did not answer."), status=502)
