"""Contain's composition root: settings, tenant clients, store, the bot's aiohttp app, and the
`contain` command line. Nothing else builds real clients; tests swap them here.

    contain serve                 run the Teams bot (sandbox tenant when no tenant is configured)
    contain investigate WHO       investigate an account
    contain remediate WHO ...     run containment actions (as the signed-in responder)
    contain approve|reject REQ    decide on a request that waits for a second responder
    contain login|logout|whoami   sign in once as yourself (device code flow)
    contain score                 Secure Score summary
    contain audit show|verify|export
    contain sandbox serve|reset   the embedded sandbox tenant
    contain doctor                check tokens, permissions, responders group and channel
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import ipaddress
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from services.runtime import Runtime
from services.settings import Settings, SettingsError, TenantEndpoints, load_settings

log = logging.getLogger("contain")

# aiohttp application keys (typed keys avoid the string-key warning and collisions).
SETTINGS_KEY = web.AppKey("contain.settings", Settings)
ADAPTER_KEY: web.AppKey[Any] = web.AppKey("contain.adapter")
GATEWAY_KEY: web.AppKey[Any] = web.AppKey("contain.gateway")
AUTH_OFF_KEY = web.AppKey("contain.auth_off", bool)
RUNTIME_KEY = web.AppKey("contain.runtime", Runtime)

# Each terminal command lives in its own module exposing `register(subparsers)`; the parser it
# registers sets `handler` to an `async def handler(args, runtime) -> int` (or `needs_runtime=False`
# with `async def handler(args, settings) -> int`).
COMMAND_MODULES = (
    "dialogs.terminal.serve",
    "dialogs.terminal.investigate",
    "dialogs.terminal.remediate",
    "dialogs.terminal.decide",
    "dialogs.terminal.signin",
    "dialogs.terminal.score",
    "dialogs.terminal.audit",
    "dialogs.terminal.doctor",
    "dialogs.terminal.package",
    "sandbox.cli",
)


@asynccontextmanager
async def build_runtime(settings: Settings, *, sandbox_overrides: dict[str, Any] | None = None
                        ) -> AsyncIterator[Runtime]:
    """Build every real client once. In sandbox mode the sandbox tenant runs in this process unless
    CONTAIN_SANDBOX_URL names a running one; either way the services get plain TenantEndpoints."""
    from services.store.db import Store
    from services.tenant.auth import TokenSource
    from services.tenant.exchange import ExchangeClient
    from services.tenant.facade import Tenant
    from services.tenant.graph import build_graph_client

    sandbox: Any = None
    if settings.tenant is not None:
        endpoints: TenantEndpoints = settings.tenant
    elif settings.sandbox_url:
        from sandbox.server import fetch_endpoints

        endpoints = await fetch_endpoints(settings.sandbox_url, home=settings.home)
    else:
        from sandbox.server import SandboxServer

        sandbox = SandboxServer(home=settings.home, fixture=settings.sandbox_fixture,
                                **(sandbox_overrides or {}))
        await sandbox.start()
        endpoints = sandbox.endpoints()

    tokens = TokenSource(endpoints)
    graph = build_graph_client(endpoints, tokens)
    exchange = ExchangeClient(endpoints, tokens)
    store = await Store.open(settings.database_url)
    runtime = Runtime(
        settings=settings,
        endpoints=endpoints,
        tokens=tokens,
        tenant=Tenant(graph=graph, exchange=exchange, endpoints=endpoints),
        exchange=exchange,
        store=store,
        sandbox=sandbox,
    )
    try:
        yield runtime
    finally:
        await store.close()
        await exchange.close()
        if sandbox is not None:
            await sandbox.stop()


# --- The bot's HTTP surface -------------------------------------------------------------------------

MAX_BODY_BYTES = 256 * 1024
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: the only places an unauthenticated bot may listen."""
    host = host.strip().strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_refusal(settings: Settings) -> str | None:
    """One sentence saying why this configuration must not serve, or None when it may."""
    if settings.app_id:
        if not settings.app_password:
            return "MicrosoftAppPassword must be set when MicrosoftAppId is set."
        return None
    if not settings.sandbox:
        return ("MicrosoftAppId must be set when Contain runs against a real tenant: without it Bot Framework "
                "authentication is off and anyone could drive the bot.")
    if not is_loopback(settings.host):
        return (f"HOST={settings.host} with no MicrosoftAppId would expose a bot without authentication: "
                "set MicrosoftAppId, or bind HOST to 127.0.0.1.")
    return None


class BotAuthConfig:
    """The attribute bag ConfigurationBotFrameworkAuthentication reads (its names, not ours). Extra
    keyword arguments set its endpoint overrides, e.g. TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: tests
    point token validation at a local OpenID stand-in this way instead of patching globals."""

    def __init__(self, settings: Settings, **endpoints: str) -> None:
        self.APP_ID = settings.app_id
        self.APP_PASSWORD = settings.app_password or ""
        # Single tenant when the bot's tenant is known: the token for outbound calls comes from it.
        self.APP_TYPE = "SingleTenant" if settings.app_tenant_id and settings.app_id else "MultiTenant"
        self.APP_TENANTID = settings.app_tenant_id
        for name, value in endpoints.items():
            setattr(self, name.upper(), value)

    def __repr__(self) -> str:  # never print the password
        return f"BotAuthConfig(APP_ID={self.APP_ID!r}, APP_TYPE={self.APP_TYPE!r})"


def build_adapter(settings: Settings, *, credentials_factory: Any = None, **endpoints: str) -> Any:
    """CloudAdapter with Bot Framework authentication configured from settings."""
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    auth = ConfigurationBotFrameworkAuthentication(
        BotAuthConfig(settings, **endpoints), credentials_factory=credentials_factory, logger=log
    )
    return CloudAdapter(_reusing_clients(auth))


_CLIENT_CACHE_MAX = 64


def _reusing_clients(inner: Any) -> Any:
    """Bot Framework authentication that reuses connector and user-token clients per (app id, service
    URL, audience) instead of building two per turn: msrest spends ~4 ms building each client's retry
    table, which was most of a turn's CPU and made 50 concurrent clicks queue. BotFrameworkAdapter kept
    the same cache; validation itself is not cached."""
    from botframework.connector.auth import BotFrameworkAuthentication, ConnectorFactory

    class _Factory(ConnectorFactory):
        def __init__(self, wrapped: Any, app_id: str | None, cache: dict[tuple[Any, ...], Any]) -> None:
            self._wrapped, self._app_id, self._cache = wrapped, app_id, cache

        async def create(self, service_url: str, audience: str | None = None) -> Any:
            key = ("connector", self._app_id, service_url, audience)
            if key not in self._cache:
                if len(self._cache) > _CLIENT_CACHE_MAX:  # service URLs are few; never let callers grow it
                    self._cache.clear()
                self._cache[key] = await self._wrapped.create(service_url, audience)
            return self._cache[key]

    class _Reusing(BotFrameworkAuthentication):
        def __init__(self) -> None:
            self._cache: dict[tuple[Any, ...], Any] = {}

        @staticmethod
        def _app_id(claims_identity: Any) -> str | None:
            claims = getattr(claims_identity, "claims", None) or {}
            return claims.get("aud") or claims.get("appid")

        async def authenticate_request(self, activity: Any, auth_header: str) -> Any:
            result = await inner.authenticate_request(activity, auth_header)
            if result.connector_factory is not None:
                result.connector_factory = _Factory(
                    result.connector_factory, self._app_id(result.claims_identity), self._cache)
            return result

        async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> Any:
            return await inner.authenticate_streaming_request(auth_header, channel_id_header)

        def create_connector_factory(self, claims_identity: Any) -> Any:
            return _Factory(inner.create_connector_factory(claims_identity), self._app_id(claims_identity),
                            self._cache)

        async def create_user_token_client(self, claims_identity: Any) -> Any:
            key = ("token", self._app_id(claims_identity))
            if key not in self._cache:
                self._cache[key] = await inner.create_user_token_client(claims_identity)
            return self._cache[key]

        def create_bot_framework_client(self) -> Any:
            return inner.create_bot_framework_client()

        def get_originating_audience(self) -> str:
            return str(inner.get_originating_audience())

        async def authenticate_channel_request(self, auth_header: str) -> Any:
            return await inner.authenticate_channel_request(auth_header)

    return _Reusing()


def _tenants_in(payload: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    conversation = payload.get("conversation")
    if isinstance(conversation, dict) and conversation.get("tenantId") is not None:
        found.add(str(conversation["tenantId"]))
    channel_data = payload.get("channelData")
    tenant = channel_data.get("tenant") if isinstance(channel_data, dict) else None
    if isinstance(tenant, dict) and tenant.get("id") is not None:
        found.add(str(tenant["id"]))
    return found


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def _messages(request: web.Request) -> web.StreamResponse:
    """POST /api/messages. Order: shape (415/413/400), authentication (401), tenant (403), then the
    turn. Nothing reaches the dialogs before the token and the tenant are checked."""
    from aiohttp import web
    from botbuilder.schema import Activity

    from dialogs.gateway import ROUTED_TYPES

    app = request.app
    settings: Settings = app[SETTINGS_KEY]
    if request.content_type != "application/json":
        return _refuse(415, "Send the activity as application/json.")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _refuse(413, "The activity is too large.")
    try:
        raw = await request.read()  # client_max_size caps this at MAX_BODY_BYTES (413 beyond)
        payload = json.loads(raw)
    except web.HTTPRequestEntityTooLarge:
        return _refuse(413, "The activity is too large.")
    except (ValueError, UnicodeDecodeError):
        return _refuse(400, "The body is not valid JSON.")
    # Check the raw shape first: msrest would quietly turn {"type": 5} into "5".
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str) or not payload["type"]:
        return _refuse(400, "The body is not a Bot Framework activity.")
    if not isinstance(payload.get("serviceUrl"), str):
        return _refuse(400, "The activity needs a serviceUrl.")
    if not isinstance(payload.get("text", ""), str | None) or not isinstance(payload.get("conversation", {}), dict):
        return _refuse(400, "The body is not a Bot Framework activity.")
    try:
        activity = Activity().deserialize(payload)
    except Exception:
        return _refuse(400, "The body is not a Bot Framework activity.")
    if not isinstance(activity.type, str) or not activity.type or not isinstance(activity.service_url, str):
        return _refuse(400, "The activity needs a type and a serviceUrl.")
    if activity.type in ROUTED_TYPES and not (activity.conversation and activity.conversation.id):
        return _refuse(400, "The activity needs a conversation.")

    adapter = app[ADAPTER_KEY]
    auth_off = app[AUTH_OFF_KEY]
    # With authentication off a header is ignored, not validated: validating it would make the bot
    # fetch signing keys from the internet on an anonymous caller's behalf.
    auth_header = "" if auth_off else request.headers.get("Authorization", "")
    try:
        auth = await adapter.bot_framework_authentication.authenticate_request(activity, auth_header)
    except Exception:  # PermissionError, and jwt/KeyError on garbage tokens: all mean "not authenticated"
        log.info("refused an activity: Bot Framework authentication failed")
        return _refuse(401, "Unauthorized.")
    if settings.app_tenant_id:
        tenants = _tenants_in(payload)
        if tenants != {settings.app_tenant_id}:
            log.warning("refused an activity from outside tenant MicrosoftAppTenantId (type %s)", activity.type)
            return _refuse(403, "This bot serves one tenant only.")
    if auth_off and not _loopback_url(activity.service_url):
        # Unauthenticated mode only ever talks to a loopback connector (the Playground, the tests).
        log.warning("refused an activity whose serviceUrl is not on loopback while authentication is off")
        return _refuse(403, "With authentication off, serviceUrl must be on loopback.")
    if activity.type not in ROUTED_TYPES:
        return web.Response(status=200)

    gateway = app[GATEWAY_KEY]
    try:
        invoke_response, deferred = await gateway.process(adapter, auth, activity)
    except Exception:
        # The dialogs answer their own errors; what lands here is the Bot Connector failing us.
        log.exception("could not deliver the turn's answer to the Bot Connector")
        return _refuse(502, "The Bot Connector could not be reached.")
    if invoke_response is not None:
        body = invoke_response.body
        if body is not None and not isinstance(body, dict | list | str | int | float | bool):
            from botbuilder.core import serializer_helper

            body = serializer_helper(body)
        response: web.StreamResponse = (
            web.json_response(body, status=int(invoke_response.status))
            if body is not None else web.Response(status=int(invoke_response.status))
        )
    else:
        response = web.Response(status=200)
    # Acknowledge first, work after: the answer is on the wire before any deferred work starts.
    await response.prepare(request)
    await response.write_eof()
    for start in deferred:
        start()
    return response


def _loopback_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return bool(host) and is_loopback(host or "")


async def _healthz(request: web.Request) -> web.Response:
    settings: Settings = request.app[SETTINGS_KEY]
    return web.json_response({
        "status": "ok",
        "sandbox": settings.sandbox,
        "version": _version(),
        "auth": "off" if request.app[AUTH_OFF_KEY] else "on",
    })


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("contain")
    except PackageNotFoundError:
        return "0.0.0"


def _reference_sink(runtime: Runtime) -> Any:
    """Keep conversation references in the store (channel threads and 1:1 chats are posted to later)."""
    store = getattr(runtime, "store", None)
    if store is None:
        return None

    # What this process last saved per key: a reference rarely changes, and a write per turn would put
    # a database commit on every turn's path.
    saved: dict[str, str] = {}

    async def keep(turn: Any, reference: dict[str, Any]) -> None:
        from services.store import conversations

        if turn.conversation_type == "personal":
            key, kind = turn.user.aad_id or turn.conversation_id, conversations.ConversationKind.PERSONAL
        elif turn.conversation_type == "channel":
            key, kind = turn.conversation_id, conversations.ConversationKind.CHANNEL
        else:
            key, kind = turn.conversation_id, conversations.ConversationKind.GROUP
        fingerprint = json.dumps({k: v for k, v in reference.items() if k != "activityId"}, sort_keys=True,
                                 default=str) + f"|{turn.team_id}"
        if saved.get(key) == fingerprint:
            return
        await conversations.save(store, key=key, kind=kind, reference=reference, team_id=turn.team_id)
        if len(saved) > 10_000:
            saved.clear()
        saved[key] = fingerprint

    return keep


def create_app(runtime: Runtime, *, adapter: Any = None, router: Any = None,
               install_flows: bool | None = None) -> web.Application:
    """The bot's aiohttp app: POST /api/messages and GET /healthz.

    Refuses (SettingsError, one sentence) to build an app that would act on anyone's POST: an empty
    MicrosoftAppId is accepted only in sandbox mode on loopback. `adapter` replaces the CloudAdapter
    built from settings (tests point its token validation at a local OpenID stand-in); `router`
    replaces the default dialog router. With a store and a tenant in `runtime`, the conversation flows
    (dialogs.flows) are registered on the default router (or on `router` with install_flows=True), and the
    execution worker and the expiry timers start and stop with the app."""
    from dialogs.gateway import Gateway
    from dialogs.router import Router

    settings = runtime.settings
    refusal = exposure_refusal(settings)
    if refusal:
        raise SettingsError(refusal)
    auth_off = not settings.app_id
    runtime.extras["auth_off"] = auth_off
    if install_flows is None:
        install_flows = router is None  # a router passed in (tests) is used as given
    if router is None:
        router = Router(on_reference=_reference_sink(runtime))
    adapter = adapter if adapter is not None else build_adapter(settings)
    gateway = Gateway(router, bot_app_id=settings.app_id, auth_off=auth_off, sandbox=settings.sandbox)
    gateway.adapter = adapter

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SETTINGS_KEY] = settings
    app[ADAPTER_KEY] = adapter
    app[GATEWAY_KEY] = gateway
    app[AUTH_OFF_KEY] = auth_off
    app[RUNTIME_KEY] = runtime
    app.router.add_post("/api/messages", _messages)
    app.router.add_get("/healthz", _healthz)
    app.router.add_post("/api/alerts", _alerts_webhook)
    if install_flows and getattr(runtime, "store", None) is not None and getattr(runtime, "tenant", None) is not None:
        _install_flows(app, runtime, router, gateway, auth_off)

    async def _drain(_app: web.Application) -> None:
        await gateway.drain()

    app.on_shutdown.append(_drain)
    return app


# --- The conversation flows: registered on the router, worker and timers started with the app ---------

FLOWS_KEY: web.AppKey[Any] = web.AppKey("contain.flows")


def responders_group_id(runtime: Runtime) -> str | None:
    """CONTAIN_RESPONDERS_GROUP_ID, else (sandbox mode) the group the sandbox tenant declares. A real
    tenant without the setting is refused: nobody could be told apart from a responder."""
    settings = runtime.settings
    if settings.responders_group_id:
        return settings.responders_group_id
    if not settings.sandbox:
        raise SettingsError("CONTAIN_RESPONDERS_GROUP_ID must be set: only members of that Entra group may act "
                            "through Contain.")
    if runtime.sandbox is not None:
        found = runtime.sandbox.info().get("respondersGroupId")
        return str(found) if found else None
    return None  # a sandbox at CONTAIN_SANDBOX_URL: asked at start-up


async def _remote_sandbox_group(settings: Settings) -> str | None:
    import httpx

    if not settings.sandbox_url:
        return None
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.get(f"{settings.sandbox_url}/_sandbox/info")
            response.raise_for_status()
            found = response.json().get("respondersGroupId")
    except (httpx.HTTPError, ValueError):
        return None
    return str(found) if found else None


def proactive_poster(gateway: Any) -> Any:
    """post_to(stored reference) -> Poster: posts into a stored conversation after the turn (the worker,
    the timers), through continue_conversation with the bot app id like every later post."""
    from botbuilder.schema import ConversationReference

    from dialogs.gateway import _ConversationPoster
    from dialogs.router import Person, Turn

    def post_to(reference: dict[str, Any]) -> Any:
        ref = ConversationReference().deserialize(dict(reference))
        conversation = ref.conversation
        turn = Turn(kind="message", user=Person(aad_id="", name=""),
                    conversation_id=conversation.id if conversation else "",
                    conversation_type=(conversation.conversation_type if conversation else None) or "personal",
                    tenant_id=conversation.tenant_id if conversation else None, activity_id=None, reply_to_id=None,
                    auth_off=gateway.auth_off, sandbox=gateway.sandbox)
        return _ConversationPoster(gateway, ref, turn)

    return post_to


def _install_flows(app: web.Application, runtime: Runtime, router: Any, gateway: Any, auth_off: bool) -> None:
    from datetime import timedelta

    from dialogs.flows import FlowDeps, install
    from services.approvals.responders import responder_check

    settings = runtime.settings
    group_id = responders_group_id(runtime)
    checks: dict[str, Any] = {}

    def arm(gid: str) -> None:
        try:
            checks["check"] = responder_check(tenant=runtime.tenant, group_id=gid)
        except ValueError:
            raise SettingsError("CONTAIN_RESPONDERS_GROUP_ID must be the responders group's object id (a GUID).") \
                from None

    if group_id:
        arm(group_id)

    async def is_responder(user_id: str) -> bool:
        check = checks.get("check")
        return bool(check is not None and await check(user_id))  # no group known yet: nobody acts

    deps = FlowDeps(store=runtime.store, tenant=runtime.tenant, is_responder=is_responder,
                    post_to=proactive_poster(gateway), sandbox=settings.sandbox, auth_off=auth_off,
                    ttl=timedelta(minutes=settings.request_ttl_minutes),
                    summary_audit_wait_s=float(runtime.extras.get("summary_audit_wait_s", 20.0)))
    flows = install(router, deps, timer_interval_s=float(runtime.extras.get("timer_interval_s", 5.0)))
    app[FLOWS_KEY] = flows
    runtime.extras["flows"] = flows
    _install_alert_threads(app, runtime, router, gateway, deps)

    async def start(_app: web.Application) -> None:
        if "check" not in checks:
            gid = await _remote_sandbox_group(settings)
            if gid:
                arm(gid)
            else:
                log.warning("no responders group is known: every action will be refused")
        # Before the worker claims anything: name it, end a dead predecessor's leases, report what was in flight.
        from dialogs.flows.recovery import Recovery

        recovery = runtime.extras["recovery"] = Recovery(flows, home=settings.home)
        recovery.begin()
        flows.start()

    async def stop(_app: web.Application) -> None:
        await flows.stop()
        if runtime.extras.get("recovery") is not None:
            await runtime.extras.pop("recovery").stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)


# --- Alert intake: POST /api/alerts and the pollers; dialogs.flows.alerts posts the threads -----------

ALERT_THREADS_KEY: web.AppKey[Any] = web.AppKey("contain.alert_threads")
ALERT_POLLER_KEY: web.AppKey[Any] = web.AppKey("contain.alert_poller")


async def _read_at_most(request: web.Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past `limit` (a chunked body has no Content-Length)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(16 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _alerts_webhook(request: web.Request) -> web.StreamResponse:
    """POST /api/alerts: a signed alert (services.alerts.intake.accept_webhook). Refusals answer with their own
    status and {"error": sentence}; an accepted delivery answers 202 first, then its thread is posted."""
    import time

    from services.alerts.intake import accept_webhook, describe, describe_refusal
    from services.alerts.webhook import MAX_BODY_BYTES as ALERT_MAX_BYTES
    from services.alerts.webhook import WebhookRefused

    runtime = request.app[RUNTIME_KEY]
    if getattr(runtime, "store", None) is None or getattr(runtime, "tenant", None) is None:
        return _refuse(503, "Alert intake is not available in this configuration.")
    too_big = f"The alert body is larger than {ALERT_MAX_BYTES} bytes."
    if request.content_length is not None and request.content_length > ALERT_MAX_BYTES:
        return _refuse(413, too_big)
    body = await _read_at_most(request, ALERT_MAX_BYTES)
    if body is None:
        return _refuse(413, too_big)
    try:
        result = await accept_webhook(store=runtime.store, tenant=runtime.tenant,
                                      secret=runtime.settings.webhook_secret, headers=request.headers, body=body,
                                      now=time.time())
    except WebhookRefused as refused:
        return web.json_response({**describe_refusal(refused), "error": str(refused)}, status=refused.status)
    except Exception:
        log.exception("an alert delivery could not be taken in")
        return _refuse(503, "Contain could not take the alert in; send it again with a fresh timestamp.")
    response = web.json_response(describe(result), status=202)
    await response.prepare(request)
    await response.write_eof()
    threads = request.app.get(ALERT_THREADS_KEY)
    if threads is not None and result.needs_post:
        threads.spawn(threads.deliver(result))
    return response


def _install_alert_threads(app: web.Application, runtime: Runtime, router: Any, gateway: Any, deps: Any) -> None:
    """Alert threads, /compromised set-channel, and the pollers (started and stopped with the app). At start,
    alert incidents whose thread was never posted (a crash, or no channel at the time) get it."""
    from dialogs.flows import channel
    from dialogs.flows.alerts import AlertThreads
    from dialogs.gateway import channel_thread_starter
    from services.alerts.poll import AlertPoller

    settings = runtime.settings
    threads = AlertThreads(deps, start_thread=channel_thread_starter(gateway), channel_id=settings.channel_id)
    channel.register(router, deps, configured_id=settings.channel_id, on_chosen=threads.recover)
    poller = AlertPoller.from_runtime(runtime, on_result=threads.deliver)
    app[ALERT_THREADS_KEY] = threads
    app[ALERT_POLLER_KEY] = poller
    runtime.extras["alert_threads"] = threads
    runtime.extras["alert_poller"] = poller

    async def start(_app: web.Application) -> None:
        threads.spawn(threads.recover())
        if runtime.extras.get("poll_alerts", True):  # tests drive run_once() themselves
            poller.start()

    async def stop(_app: web.Application) -> None:
        await poller.stop()
        await threads.drain()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)


def listening_line(settings: Settings, auth_off: bool) -> str:
    """The one start-up line: where, which tenant, whether authentication is on."""
    tenant = "sandbox tenant" if settings.tenant is None else f"tenant {settings.tenant.tenant_id}"
    auth = "authentication OFF — local use only" if auth_off else "authentication on"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"Contain listening on http://{host}:{settings.port} ({tenant}, {auth})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contain", description="Contain a compromised Microsoft 365 account.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if not getattr(args, "needs_runtime", True):
        return int(await args.handler(args, settings))
    async with build_runtime(settings) as runtime:
        return int(await args.handler(args, runtime))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `contain` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"contain: {exc}", file=sys.stderr)
        return 2
    # A terminal command prints its own result; its logs stay quiet unless CONTAIN_LOG_LEVEL asks.
    level = settings.log_level if args.command == "serve" or "CONTAIN_LOG_LEVEL" in os.environ else "WARNING"
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Third-party HTTP loggers would print URLs with UPNs at INFO; keep them quiet.
    for noisy in ("httpx", "httpcore", "msal", "urllib3", "azure", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return asyncio.run(_run(args, settings))
    except SettingsError as exc:
        print(f"contain: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`contain … | head`): nothing left to say, and nothing failed here.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # keeps the interpreter's final flush quiet
        return 0


if __name__ == "__main__":
    sys.exit(main())
