"""How a Graph route is declared and what its handler gets.

    @graph(ROUTES, "GET", "/users/{id}", perms=USER_READ, query={"$select"})
    async def get_user(call: Call) -> web.Response: ...

The app checks the token, the permission and the query options before the handler runs, and
records the write (route template, target, redacted body, request id) after it succeeds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox import odata

if TYPE_CHECKING:
    from sandbox.server import SandboxServer
    from sandbox.state import TenantState

Handler = Callable[["Call"], Awaitable[web.StreamResponse]]
# One entry of a route's permissions: a permission name, or a tuple of names the app must hold together
# (Graph documents some calls as "User.Read.All and GroupMember.Read.All").
Perm = str | tuple[str, ...]
SERVER: web.AppKey[Any] = web.AppKey("contain_sandbox")  # the SandboxServer an app belongs to
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    perms: tuple[Perm, ...]
    write: bool
    query: frozenset[str]

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"

    def permits(self, held: set[str]) -> bool:
        return permitted(self.perms, held)


def permitted(perms: Iterable[Perm], held: set[str]) -> bool:
    """Does `held` satisfy any one entry of `perms` (every name of a combined entry)?"""
    return any(all(p in held for p in ((entry,) if isinstance(entry, str) else entry)) for entry in perms)


def graph(routes: list[Route], method: str, template: str, *, perms: Iterable[Perm],
          query: Iterable[str] = (), write: bool | None = None) -> Callable[[Handler], Handler]:
    """Register a handler. POST/PATCH/PUT/DELETE count as writes unless `write=False` (e.g. a POST that reads)."""
    def register(fn: Handler) -> Handler:
        routes.append(Route(method=method, template=template, handler=fn, perms=tuple(perms),
                            write=method in ("POST", "PATCH", "PUT", "DELETE") if write is None else write,
                            query=frozenset(query)))
        return fn

    return register


@dataclass
class Call:
    request: web.Request
    server: SandboxServer
    route: Route
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    request_id: str
    claims: dict[str, Any]
    perms: set[str]
    target: str | None = None
    logged_body: Any = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def state(self) -> TenantState:
        return self.server.state

    @property
    def base(self) -> str:
        return f"http://{self.request.host}"

    @property
    def client_ip(self) -> str:
        return self.request.remote or "127.0.0.1"

    @property
    def version(self) -> str:
        return "beta" if self.request.path.startswith("/beta/") else "v1.0"

    def context(self, fragment: str) -> str:
        return f"{self.base}/{self.version}/$metadata#{fragment}"

    def ok(self, data: dict[str, Any], *, context: str | None = None, status: int = 200) -> web.Response:
        body = {"@odata.context": self.context(context)} if context else {}
        body.update(data)
        return web.json_response(body, status=status)

    def no_content(self) -> web.Response:
        return web.Response(status=204)

    def page(self, items: Sequence[dict[str, Any]], *, context: str, default_size: int, max_size: int,
             count: bool = False) -> web.Response:
        """One page of a collection; `@odata.nextLink` repeats the request with a `$skiptoken`."""
        size = odata.parse_top(self.query.get("$top"), maximum=max_size) or default_size
        offset = odata.decode_skiptoken(self.query.get("$skiptoken"))
        chunk = list(items[offset:offset + size])
        body: dict[str, Any] = {"@odata.context": self.context(context)}
        if count:
            body["@odata.count"] = len(items)
        if offset + size < len(items):
            url = self.request.url.with_query({**{k: v for k, v in self.request.query.items()
                                                  if k.lower() != "$skiptoken"},
                                               "$skiptoken": odata.encode_skiptoken(offset + size)})
            body["@odata.nextLink"] = f"{self.base}{url.raw_path_qs}"
        body["value"] = chunk
        return web.json_response(body)
