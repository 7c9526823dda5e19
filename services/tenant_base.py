"""What every Tenant operation shares: OData literal safety, the Graph call wrapper that words errors
and captures request ids, and paging.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, TypeVar

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.serialization import Parsable
from kiota_http.middleware.options import HeadersInspectionHandlerOption
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
from msgraph import GraphServiceClient

from services.errors import from_graph_exception
from services.exchange import ExchangeClient
from services.settings import TenantEndpoints
from services.tenant_models import Domain

T = TypeVar("T")

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

    async def _graph_call(self, operation: str, permission: str, call: Awaitable[T]) -> T:
        """Await one SDK call; any failure becomes a TenantError naming the operation (and, on 403,
        the permission the app registration needs)."""
        try:
            return await call
        except Exception as exc:
            raise from_graph_exception(exc, operation=operation, permission=permission) from None

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
