"""The msgraph-sdk client, built once per tenant.

Every Graph call Contain makes goes through this client's request builders (services.tenant.facade). The
base URL comes from TenantEndpoints, so the same code talks to graph.microsoft.com or to the
sandbox tenant on loopback; kiota only sends plain http to localhost/127.0.0.1/::1.
"""

from __future__ import annotations

import ssl

import httpx
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.graph_request_adapter import options as sdk_default_options
from msgraph_core import GraphClientFactory

from services.settings import TenantEndpoints
from services.tenant.auth import TokenSource

# kiota's RetryHandler retries 429/503/504 this many times, honouring Retry-After (services.tenant.errors
# words the final failure with the same number).
GRAPH_MAX_RETRIES = 3
# The investigation fans out ~15 reads at once; over HTTP/1.1 (the sandbox) each needs its own
# connection, over HTTP/2 they share one.
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=50)
TIMEOUT = httpx.Timeout(60.0, connect=15.0)


# Loading the system trust store costs tens of milliseconds of CPU each time: the clients of a process
# share one context per CA bundle content (a bundle whose content changed gets a new one).
_TRUST: dict[bytes, ssl.SSLContext] = {}


def tls_verify(endpoints: TenantEndpoints) -> ssl.SSLContext | bool:
    """System trust plus the extra CA bundle when one is configured (a TLS-inspecting proxy, the sandbox)."""
    if endpoints.ca_bundle is None:
        return True
    pem = endpoints.ca_bundle.read_bytes()
    context = _TRUST.get(pem)
    if context is None:
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=str(endpoints.ca_bundle))
        if len(_TRUST) >= 8:
            _TRUST.clear()
        _TRUST[pem] = context
    return context


def graph_base_url(endpoints: TenantEndpoints) -> str:
    return endpoints.graph_url.rstrip("/") + "/v1.0"


def build_http_client(endpoints: TenantEndpoints, *, transport: httpx.AsyncBaseTransport | None = None,
                      max_retries: int = GRAPH_MAX_RETRIES) -> httpx.AsyncClient:
    """The httpx client under the Graph SDK, with kiota's and Graph's default middleware. `transport`
    replaces the pooled HTTP/2 one (the write clients send through one that retries 429 only)."""
    if transport is None:
        transport = httpx.AsyncHTTPTransport(http2=True, verify=tls_verify(endpoints), limits=POOL_LIMITS)
    client = httpx.AsyncClient(base_url=graph_base_url(endpoints), transport=transport, timeout=TIMEOUT)
    options = dict(sdk_default_options)
    options[RetryHandlerOption.get_key()] = RetryHandlerOption(max_retries=max_retries)
    # msgraph_core ships no types; the factory hands back the client it was given, wrapped in middleware.
    wrapped: httpx.AsyncClient = GraphClientFactory.create_with_default_middleware(client=client, options=options)
    return wrapped


def graph_transport(endpoints: TenantEndpoints) -> httpx.AsyncHTTPTransport:
    """The pooled HTTP/2 transport every tenant client sends through."""
    return httpx.AsyncHTTPTransport(http2=True, verify=tls_verify(endpoints), limits=POOL_LIMITS)


def graph_request_adapter(endpoints: TenantEndpoints, tokens: TokenSource, *,
                          transport: httpx.AsyncBaseTransport | None = None,
                          max_retries: int = GRAPH_MAX_RETRIES) -> GraphRequestAdapter:
    """The request adapter the composition root builds the GraphServiceClient on."""
    adapter = GraphRequestAdapter(tokens.graph_auth_provider(),
                                  client=build_http_client(endpoints, transport=transport, max_retries=max_retries))
    adapter.base_url = graph_base_url(endpoints)
    return adapter


async def close_graph_client(client: GraphServiceClient) -> None:
    """Close the connection pool under the SDK (the composition root may call it at shutdown)."""
    http = getattr(client.request_adapter, "_http_client", None)
    if isinstance(http, httpx.AsyncClient):
        await http.aclose()
