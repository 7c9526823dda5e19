"""The clients containment writes go through: one attempt per write, except when the service throttled.

The read clients retry 429/503/504 at the transport (kiota's RetryHandler, services.tenant.retry). For a
write that is wrong: a 503 or a timeout may come *after* the write landed, and sending it again
applies it twice. So writes use these clients, which retry only 429 (the service says it did
nothing; Retry-After is honoured) and hand every other failure to the action, which reads the
target's state again before deciding whether a write is still needed (services.actions.base).

The write clients are built once, by the composition root (bot.py), from `write_transport` and
`WriteTenant`; the actions receive them as `ActionContext.writer`. Nothing here builds a client.

The write Tenant also leaves the body of a rule PATCH unread: the request builder's `patch` hydrates
the answer into the SDK's MessageRule, and the first hydration of any SDK model in a process imports
its whole type graph (well over a second with the event loop blocked, in the middle of a run).
Nothing reads that body; the action verifies by reading the rules again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from msgraph.generated.models.message_rule import MessageRule

from services.tenant.base import ERROR_MAPPING, config, request_id
from services.tenant.facade import Tenant
from services.tenant.mail import RULES_WRITE
from services.tenant.retry import retry_after_seconds

THROTTLE_RETRIES = 6
MAX_RETRY_AFTER_S = 60.0


class ThrottleRetryTransport(httpx.AsyncBaseTransport):
    """Sends a request again only after 429 Too Many Requests, waiting as long as Retry-After says.
    A throttled request was not executed, so resending it cannot apply a write twice."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, retries: int = THROTTLE_RETRIES) -> None:
        self._inner = inner
        self._retries = retries

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()  # the body must be replayable
        attempt = 0
        while True:
            response = await self._inner.handle_async_request(request)
            if response.status_code != 429 or attempt >= self._retries:
                return response
            await response.aread()
            wait = retry_after_seconds(httpx.Response(429, headers=response.headers))
            await response.aclose()
            if wait is None:
                wait = min(8.0, 0.5 * 2 ** attempt)
            if wait > MAX_RETRY_AFTER_S:
                return httpx.Response(429, headers=response.headers, request=request)
            await asyncio.sleep(wait)
            attempt += 1

    async def aclose(self) -> None:
        await self._inner.aclose()


class WriteTenant(Tenant):
    """The Tenant the actions write through (see the module docstring)."""

    async def set_inbox_rule_enabled(self, *, user_id: str, rule_id: str, enabled: bool) -> str | None:
        cfg = config()
        info = self._rules(user_id).by_message_rule_id(rule_id).to_patch_request_information(
            MessageRule(is_enabled=enabled), cfg)
        adapter: Any = self.graph.request_adapter
        await self._graph_call("PATCH /users/{id}/mailFolders/inbox/messageRules/{id}", RULES_WRITE,
                               adapter.send_no_response_content_async(info, ERROR_MAPPING))
        return request_id(cfg)


def write_transport(inner: httpx.AsyncBaseTransport) -> ThrottleRetryTransport:
    """The transport under both write clients: `inner` sends, 429 alone is sent again."""
    return ThrottleRetryTransport(inner)


def retry_after_of(exc: BaseException) -> float | None:
    """Retry-After of a failed call when the error still carries the response headers."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, int | float):
        return float(value)
    context = exc.__context__
    headers = getattr(context, "response_headers", None)
    if headers is not None and hasattr(headers, "get"):
        raw = headers.get("retry-after") or headers.get("Retry-After")
        if raw:
            try:
                return max(0.0, float(raw if isinstance(raw, str) else next(iter(raw))))
            except (TypeError, ValueError, StopIteration):
                return None
    return None
