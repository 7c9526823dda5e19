"""The sandbox's aiohttp application: one middleware gives every response its request ids, applies
fault injection, turns errors into each service's error shape and logs the request; Graph routes
are wrapped so the token, the permission and the query options are checked before a handler runs."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox import admin, graph_directory, graph_identity, graph_mail, graph_security, graph_users
from sandbox.auth import GRAPH_AUDIENCE
from sandbox.errors import ExoError, GraphError, bad_request, exo_error_body, forbidden, graph_error_body
from sandbox.exchange import cmdlet_name, invoke_command
from sandbox.faults import Decision
from sandbox.records import RequestRecord, redacted
from sandbox.routing import REQUEST_ID, SERVER, Call, Route

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

log = logging.getLogger("contain.sandbox")

GRAPH_ROUTES: list[Route] = [*graph_users.ROUTES, *graph_directory.ROUTES, *graph_identity.ROUTES,
                             *graph_mail.ROUTES, *graph_security.ROUTES]
ODATA_OPTIONS = {"$filter", "$select", "$expand", "$top", "$skip", "$orderby", "$count", "$search", "$format",
                 "$skiptoken", "$levels", "$deltatoken"}
EXO_PATH = "/adminapi/beta/{tenant}/InvokeCommand"
_WWW_AUTH = ('Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
             'client_id="00000003-0000-0000-c000-000000000000"')


def build_app(server: SandboxServer) -> web.Application:
    app = web.Application(middlewares=[_middleware], client_max_size=4 * 1024 * 1024)
    app[SERVER] = server
    for prefix in ("/v1.0", "/beta"):
        for route in GRAPH_ROUTES:
            app.router.add_route(route.method, prefix + route.template, _graph_handler(route))
    app.router.add_post(EXO_PATH, invoke_command)
    authority = server.authority
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", authority.openid_configuration)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", authority.token)
    app.router.add_get("/{tenant}/discovery/v2.0/keys", authority.jwks)
    app.router.add_post("/{tenant}/oauth2/v2.0/devicecode", authority.device_codes.devicecode)
    app.router.add_get("/devicelogin", authority.device_codes.page)
    app.router.add_post("/devicelogin", authority.device_codes.page_submit)
    admin.register(app)
    return app


def _graph_query(request: web.Request, route: Route) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in request.query.items():
        low = key.lower()
        if not low.startswith("$"):
            continue  # Graph ignores ordinary parameters it does not know
        if low not in ODATA_OPTIONS:
            raise bad_request(f"Unrecognized query argument specified: '{key}'.")
        if low not in route.query:
            raise bad_request(f"Query option '{key}' is not supported on this resource.", "Request_UnsupportedQuery")
        query[low] = value
    return query


def _without_annotations(value: Any) -> Any:
    """Graph accepts `@odata.type` and other instance annotations in request bodies (msgraph-sdk sends
    them on every model); handlers see only the properties."""
    if isinstance(value, dict):
        return {k: _without_annotations(v) for k, v in value.items() if not k.startswith("@odata.")}
    if isinstance(value, list):
        return [_without_annotations(v) for v in value]
    return value


def _graph_handler(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        server: SandboxServer = request.app[SERVER]
        claims, reason = server.authority.verify(request.headers.get("Authorization"), GRAPH_AUDIENCE)
        if claims is None:
            raise GraphError(401, "InvalidAuthenticationToken", reason, headers={"WWW-Authenticate": _WWW_AUTH})
        perms = server.authority.permissions(claims)
        if not route.permits(perms):
            raise forbidden()
        query = _graph_query(request, route)
        body: Any = None
        if request.method in ("POST", "PATCH", "PUT"):
            raw = await request.read()
            if raw.strip():
                try:
                    body = _without_annotations(json.loads(raw))
                except ValueError:
                    raise bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set "
                                      "and payload is of valid JSON format.") from None
        call = Call(request=request, server=server, route=route, params=dict(request.match_info), query=query,
                    body=body, request_id=request[REQUEST_ID], claims=claims, perms=perms)
        response = await route.handler(call)
        if route.write and response.status < 300:
            server.record_write(method=request.method, route=route.name,
                                target=call.target or call.params.get("id"),
                                body=call.logged_body if call.logged_body is not None else body,
                                request_id=call.request_id, status=response.status)
        return response

    return handle


async def _label(request: web.Request) -> tuple[str, str]:
    """(route label, kind) where kind is graph | exo | login | admin | other."""
    path = request.path
    if path.startswith("/_sandbox"):
        return f"ADMIN {request.method} {path}", "admin"
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else None
    if path.startswith(("/v1.0/", "/beta/")) or path in ("/v1.0", "/beta"):
        template = canonical if canonical is not None else path
        return f"{request.method} /{template.split('/', 2)[2] if template.count('/') >= 2 else ''}", "graph"
    if canonical == EXO_PATH:
        return f"EXO {cmdlet_name(await request.read())}", "exo"
    if canonical is not None:
        return f"LOGIN {request.method} {canonical}", "login"
    return f"{request.method} {path}", "other"


def _error_response(exc: Exception, kind: str, request_id: str, client_request_id: str) -> web.Response:
    date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(exc, ExoError):
        return web.json_response(exo_error_body(exc, request_id=request_id), status=exc.status)
    if isinstance(exc, GraphError):
        err = exc
    elif isinstance(exc, web.HTTPMethodNotAllowed):
        err = GraphError(405, "Request_BadRequest", f"The HTTP method '{exc.method}' is not allowed for this resource.")
    elif isinstance(exc, web.HTTPException):
        err = GraphError(400, "BadRequest", "Resource not found for the segment in the request URL.") \
            if kind == "graph" else GraphError(exc.status, "NotFound", exc.reason)
    else:
        log.exception("sandbox handler failed")
        err = GraphError(500, "generalException", "An internal server error occurred.")
    if kind == "exo":
        return web.json_response(exo_error_body(ExoError(err.status, err.code, err.message), request_id=request_id),
                                 status=err.status)
    resp = web.json_response(graph_error_body(err, date=date, request_id=request_id,
                                              client_request_id=client_request_id), status=err.status)
    resp.headers.update(err.headers)
    return resp


async def _fault(decision: Decision, kind: str, request_id: str, client_request_id: str) -> web.Response:
    if decision.timeout:
        await asyncio.sleep(decision.hold_s)
        status, code, message = 504, "gatewayTimeout", "The request timed out."
    elif decision.status == 429:
        status, code, message = 429, "TooManyRequests", "Too many requests. Please try again later."
    else:
        status, code, message = decision.status or 503, "serviceNotAvailable", "The service is temporarily unavailable."
    err: Exception = ExoError(status, "ThrottlingException" if status == 429 else "ServerException", message) \
        if kind == "exo" else GraphError(status, code, message)
    resp = _error_response(err, kind, request_id, client_request_id)
    if decision.retry_after is not None:
        resp.headers["Retry-After"] = str(math.ceil(decision.retry_after))
    return resp


@web.middleware
async def _middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                      ) -> web.StreamResponse:
    server: SandboxServer = request.app[SERVER]
    request_id = str(uuid.uuid4())
    client_request_id = request.headers.get("client-request-id") or request_id
    request[REQUEST_ID] = request_id
    route, kind = await _label(request)
    response: web.StreamResponse
    decision = server.faults.decide(route) if kind in ("graph", "exo", "login") else Decision()
    if decision.latency_s > 0:
        await asyncio.sleep(decision.latency_s)
    faulted = decision.status is not None or decision.timeout
    if faulted and not decision.after_write:
        response = await _fault(decision, kind, request_id, client_request_id)
    else:
        state = server.state
        lag = decision.propagation_s if kind in ("graph", "exo") and not _reads(route) else 0.0
        before = copy.deepcopy(state.data) if lag else None
        real = state.data
        masked = kind in ("graph", "exo") and _reads(route) and server.propagation.active()
        if masked:
            # A read sees the changes still propagating undone. The handlers do not yield to the event
            # loop (the body is already read), so no other request runs while the view is in place.
            state.data = server.propagation.view(real)
        try:
            response = await handler(request)
        except Exception as exc:  # every failure becomes the service's own error shape
            response = _error_response(exc, kind, request_id, client_request_id)
        finally:
            if masked:
                state.data = real
        if before is not None and response.status < 300:
            server.propagation.record(before, state.data, lag)
        if faulted and response.status < 300:
            response = await _fault(decision, kind, request_id, client_request_id)
    response.headers["request-id"] = request_id
    response.headers["client-request-id"] = client_request_id
    if kind != "admin":
        body, answer = await _bodies(request, response) if server.keep_bodies and kind in ("graph", "exo") \
            else (None, None)
        server.log_request(RequestRecord(method=request.method, route=route, status=response.status,
                                         time=datetime.now(UTC).isoformat(), request_id=request_id,
                                         path=request.path, query=request.query_string, body=body, answer=answer))
    return response


def _reads(route: str) -> bool:
    """Does this route only read? Graph GETs and Exchange's Get-* cmdlets."""
    return route.startswith(("GET ", "EXO Get-"))


def _json_or_none(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


async def _bodies(request: web.Request, response: web.StreamResponse) -> tuple[Any, Any]:
    """The JSON request body (passwords redacted) and the JSON answer, for the request log."""
    raw = getattr(response, "body", None)
    return redacted(_json_or_none(await request.read())), _json_or_none(raw if isinstance(raw, bytes) else None)
