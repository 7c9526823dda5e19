"""The clients containment writes go through: one attempt per write, except when the service throttled.

The read clients retry 429/503/504 at the transport (kiota's RetryHandler, services.tenant.retry). For a
write that is wrong: a 503 or a timeout may come *after* the write landed, and sending it again
applies it twice. So writes use these clients, which retry only 429 (the service says it did
nothing; Retry-After is honoured) and hand every other failure to the action, which reads the
target's state again before deciding whether a write is still needed (services.actions.base).

ADAPTER: the Tenant facade does not expose its TokenSource or a way to build a write-mode client,
so this module builds a second Tenant over the same endpoints and tokens (see the report).

The write Tenant also leaves the body of a rule PATCH unread: the request builder's `patch` hydrates
the answer into the SDK's MessageRule, and the first hydration of any SDK model in a process imports
its whole type graph (well over a second with the event loop blocked, in the middle of a run).
Nothing reads that body; the action verifies by reading the rules again.
"""

from __future__ import annotations

import asyncio
from typing import Any
from weakref import WeakKeyDictionary

import httpx
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.message_rule import MessageRule
from msgraph.graph_request_adapter import options as sdk_default_options
from msgraph_core import GraphClientFactory

from services.settings import TenantEndpoints
from services.tenant.base import ERROR_MAPPING, config, request_id
from services.tenant.exchange import ExchangeClient
from services.tenant.facade import Tenant
from services.tenant.graph import POOL_LIMITS, TIMEOUT, graph_base_url, tls_verify
from services.tenant.mail import RULES_WRITE
from services.tenant.retry import RetryPolicy, retry_after_seconds

THROTTLE_RETRIES = 6
MAX_RETRY_AFTER_S = 60.0
_WRITERS: WeakKeyDictionary[Tenant, Tenant] = WeakKeyDictionary()


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


def _transport(endpoints: TenantEndpoints) -> ThrottleRetryTransport:
    inner = httpx.AsyncHTTPTransport(http2=True, verify=tls_verify(endpoints), limits=POOL_LIMITS)
    return ThrottleRetryTransport(inner)


def _graph(endpoints: TenantEndpoints, tokens: Any) -> GraphServiceClient:
    client = httpx.AsyncClient(base_url=graph_base_url(endpoints), transport=_transport(endpoints), timeout=TIMEOUT)
    options = dict(sdk_default_options)
    options[RetryHandlerOption.get_key()] = RetryHandlerOption(max_retries=0)
    http = GraphClientFactory.create_with_default_middleware(client=client, options=options)
    adapter = GraphRequestAdapter(tokens.graph_auth_provider(), client=http)
    adapter.base_url = graph_base_url(endpoints)
    return GraphServiceClient(request_adapter=adapter)


def _exchange(endpoints: TenantEndpoints, tokens: Any) -> ExchangeClient:
    client = ExchangeClient(endpoints, tokens, policy=RetryPolicy(max_retries=0))
    # ADAPTER: ExchangeClient takes no transport argument; swap its pool for one that retries 429 only.
    old = client._http
    client._http = httpx.AsyncClient(transport=_transport(endpoints), timeout=TIMEOUT)
    asyncio.get_running_loop().create_task(old.aclose())
    return client


def tokens_of(tenant: Tenant) -> Any:
    """The TokenSource behind a Tenant (the facade keeps it inside its Exchange client)."""
    tokens = getattr(tenant, "tokens", None) or getattr(tenant.exchange, "_tokens", None)
    if tokens is None:
        raise RuntimeError("The tenant facade exposes no token source for the write clients.")
    return tokens


def writer_for(tenant: Tenant) -> Tenant:
    """A Tenant over the same endpoints whose writes are sent once (429 aside). Cached per tenant."""
    existing = _WRITERS.get(tenant)
    if existing is not None:
        return existing
    if not isinstance(tenant, Tenant):  # a hand-written fake in a test: it is its own writer
        return tenant
    tokens = tokens_of(tenant)
    writer = WriteTenant(graph=_graph(tenant.endpoints, tokens), exchange=_exchange(tenant.endpoints, tokens),
                         endpoints=tenant.endpoints)
    _WRITERS[tenant] = writer
    return writer


async def close_writer(tenant: Tenant) -> None:
    """Close the write clients of `tenant`, if any were built."""
    writer = _WRITERS.pop(tenant, None)
    if writer is not None and writer is not tenant:
        await writer.close()
        await writer.exchange.close()


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
