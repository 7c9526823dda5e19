"""What every Tenant operation shares: OData literal safety, the Graph call wrapper that words errors
and captures request ids, and paging.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_abstractions.serialization import Parsable
from kiota_http.middleware.options import HeadersInspectionHandlerOption
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
from msgraph import GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from services.settings import TenantEndpoints
from services.tenant.errors import from_graph_exception
from services.tenant.exchange import ExchangeClient
from services.tenant.models import Domain

T = TypeVar("T")
ERROR_MAPPING: dict[str, Any] = {"XXX": ODataError}

MAX_QUERY_LENGTH = 256  # displayName's own limit; a UPN is at most 113 characters
MAX_PAGES = 50


class QueryRejected(ValueError):
    """User-supplied text that must not reach a filter (control characters, absurd length)."""


def check_query_text(value: str) -> str:
    """Refuse text that has no business in an OData literal; return it trimmed."""
    value = value.strip()
    if not value:
        raise QueryRejected("The name to look up is empty.")
    if len(value) > MAX_QUERY_LENGTH:
        raise QueryRejected(f"The name to look up is longer than {MAX_QUERY_LENGTH} characters.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value):
        raise QueryRejected("The name to look up contains control or unassigned characters.")
    return value


def odata_literal(value: str) -> str:
    """A quoted OData string literal: the only place `'` becomes `''`. The result cannot end the
    literal early, so `' or 1 eq 1` stays part of the value."""
    return "'" + check_query_text(value).replace("'", "''") + "'"


def search_term(value: str) -> str:
    """The inside of a `$search="displayName:..."` clause: backslash and double quote escaped."""
    return check_query_text(value).replace("\\", "\\\\").replace('"', '\\"')


def config(query: Any = None, *, eventual: bool = False) -> RequestConfiguration[Any]:
    """A request configuration that records response headers (for the request id)."""
    inspect = HeadersInspectionHandlerOption(inspect_request_headers=False, inspect_response_headers=True)
    cfg: RequestConfiguration[Any] = RequestConfiguration(query_parameters=query, options=[inspect])
    if eventual:
        cfg.headers.add("ConsistencyLevel", "eventual")
    return cfg


def request_id(cfg: RequestConfiguration[Any]) -> str | None:
    for option in cfg.options or ():
        if isinstance(option, HeadersInspectionHandlerOption):
            values = option.response_headers.get("request-id")
            if values:
                return sorted(values)[0]
    return None


def to_json(model: Parsable | None) -> dict[str, Any]:
    """An SDK model back to its wire JSON (for snapshots and evidence)."""
    if model is None:
        return {}
    writer = JsonSerializationWriter()
    writer.write_object_value(None, model)
    try:
        out = json.loads(writer.get_serialized_content().decode())
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def parse_time(value: Any) -> datetime | None:
    """Graph's ISO 8601 timestamps (`Z`, up to seven fractional digits) as aware datetimes."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def enum_text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.value) if isinstance(value, Enum) else str(value)


class TenantBase:
    """Holds the clients; the operation mixins call Graph through `_graph_call`."""

    def __init__(self, *, graph: GraphServiceClient, exchange: ExchangeClient, endpoints: TenantEndpoints) -> None:
        self.graph = graph
        self.exchange = exchange
        self.endpoints = endpoints
        self._default_domain: str | None = None
        self._domains: tuple[Domain, ...] | None = None
        self._service_principals: dict[str, tuple[str | None, str | None]] = {}

    async def _graph_call(self, operation: str, permission: str, call: Awaitable[T], *,
                          licence: str | None = None) -> T:
        """Await one SDK call; any failure becomes a TenantError naming the operation (and, on 403,
        the permission the app registration needs, or the licence the tenant lacks)."""
        try:
            return await call
        except Exception as exc:
            raise from_graph_exception(exc, operation=operation, permission=permission, licence=licence) from None

    async def _get_json(self, operation: str, permission: str, builder: Any, query: Any = None, *,
                        eventual: bool = False, licence: str | None = None) -> dict[str, Any]:
        """GET through a request builder (its URL, query options, headers and the client's middleware)
        and return the JSON body as is. Reads take this path because hydrating SDK models costs
        milliseconds of CPU per object (Entity's deserializer table), which a fan-out of twenty reads
        would pay in series on the event loop."""
        info = builder.to_get_request_information(config(query, eventual=eventual))
        return await self._send_json(operation, permission, info, licence=licence)

    async def _send_json(self, operation: str, permission: str, info: RequestInformation, *,
                         licence: str | None = None) -> dict[str, Any]:
        """Send prepared request information through the client's adapter (its middleware, auth and retries)
        and return the JSON body."""
        adapter: Any = self.graph.request_adapter
        body = await self._graph_call(operation, permission, adapter.send_primitive_async(info, "bytes", ERROR_MAPPING),
                                      licence=licence)
        if not body:
            return {}
        try:
            data = json.loads(body)
        except ValueError:
            raise from_graph_exception(ValueError("not JSON"), operation=operation) from None
        return data if isinstance(data, dict) else {}

    def _beta(self, path: str, query: dict[str, str] | None = None) -> str:
        """The beta URL of `path` on the client's own Graph host. msgraph-sdk speaks v1.0 only, and Contain
        needs two beta-only surfaces (non-interactive sign-ins, sign-in preferences): a raw request through
        the same adapter keeps the token, retries and error handling, where msgraph-beta-sdk would add a
        second model tree of several hundred megabytes for two calls."""
        base = str(self.graph.request_adapter.base_url).rstrip("/")
        base = base.removesuffix("/v1.0") + "/beta"
        qs = ("?" + urlencode(query, quote_via=quote, safe="")) if query else ""
        return f"{base}{path}{qs}"

    async def _beta_json(self, operation: str, permission: str, method: Method, path: str, *,
                         query: dict[str, str] | None = None, body: dict[str, Any] | None = None,
                         licence: str | None = None) -> dict[str, Any]:
        info = RequestInformation(method)
        info.url = self._beta(path, query)
        info.headers.try_add("Accept", "application/json")
        for option in config().options or ():
            info.add_request_options([option])
        if body is not None:
            info.set_stream_content(json.dumps(body).encode(), "application/json")
        return await self._send_json(operation, permission, info, licence=licence)

    async def _post_json(self, operation: str, permission: str, builder: Any, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body to a collection's request builder (its URL and the client's middleware) and
        return the created object as JSON: the same path as `_get_json`, without the SDK model on
        either side."""
        info = builder.to_get_request_information(config())
        info.http_method = Method.POST
        info.set_stream_content(json.dumps(body).encode(), "application/json")
        adapter: Any = self.graph.request_adapter
        raw = await self._graph_call(operation, permission, adapter.send_primitive_async(info, "bytes", ERROR_MAPPING))
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            raise from_graph_exception(ValueError("not JSON"), operation=operation) from None
        return data if isinstance(data, dict) else {}

    async def _list_json(self, operation: str, permission: str, builder: Any, query: Any = None, *,
                         eventual: bool = False, limit: int | None = None, licence: str | None = None
                         ) -> list[dict[str, Any]]:
        """Every item of a collection as JSON, following @odata.nextLink up to MAX_PAGES (or `limit`)."""
        page = await self._get_json(operation, permission, builder, query, eventual=eventual, licence=licence)
        items = [i for i in page.get("value") or [] if isinstance(i, dict)]
        pages = 1
        while (link := page.get("@odata.nextLink")) and pages < MAX_PAGES and (limit is None or len(items) < limit):
            page = await self._get_json(operation, permission, builder.with_url(str(link)), eventual=eventual,
                                        licence=licence)
            items.extend(i for i in page.get("value") or [] if isinstance(i, dict))
            pages += 1
        return items[:limit] if limit is not None else items

    async def _graph_pages(self, operation: str, permission: str, first: Awaitable[Any],
                           next_page: Callable[[str], Awaitable[Any]], *, limit: int | None = None) -> list[Any]:
        """Every item of a collection, following @odata.nextLink up to MAX_PAGES (or `limit` items)."""
        items: list[Any] = []
        page = await self._graph_call(operation, permission, first)
        pages = 1
        while page is not None:
            items.extend(page.value or [])
            link = page.odata_next_link
            if not link or pages >= MAX_PAGES or (limit is not None and len(items) >= limit):
                break
            page = await self._graph_call(operation, permission, next_page(link))
            pages += 1
        return items[:limit] if limit is not None else items
