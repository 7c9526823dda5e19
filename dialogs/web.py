"""The bot's HTTP surface: POST /api/messages, POST /api/alerts and GET /healthz on one aiohttp app.

Nothing here builds a client: the composition root (bot.py) hands in the runtime and the Bot Framework
adapter, and dialogs.wiring registers the flows and the background tasks on the app.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dialogs.gateway import ROUTED_TYPES, Gateway
from dialogs.router import Router
from dialogs.tasks import Tasks
from dialogs.wiring import Parts, install_alert_threads, install_flows, reference_sink
from services.runtime import Runtime
from services.settings import Settings, SettingsError

if TYPE_CHECKING:
    from botbuilder.core import CloudAdapterBase

log = logging.getLogger("contain")

# aiohttp application keys (typed keys avoid the string-key warning and collisions).
SETTINGS_KEY = web.AppKey("contain.settings", Settings)
RUNTIME_KEY = web.AppKey("contain.runtime", Runtime)
PARTS_KEY = web.AppKey("contain.parts", Parts)

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
    from botbuilder.schema import Activity

    app = request.app
    settings: Settings = app[SETTINGS_KEY]
    parts = app[PARTS_KEY]
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

    adapter = parts.gateway.adapter
    auth_off = parts.auth_off
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

    gateway = parts.gateway
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
        "auth": "off" if request.app[PARTS_KEY].auth_off else "on",
    })


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("contain")
    except PackageNotFoundError:
        return "0.0.0"


def create_app(runtime: Runtime, *, adapter: CloudAdapterBase, router: Router | None = None,
               install: bool | None = None) -> web.Application:
    """The bot's aiohttp app: POST /api/messages, POST /api/alerts and GET /healthz.

    Refuses (SettingsError, one sentence) to build an app that would act on anyone's POST: an empty
    MicrosoftAppId is accepted only in sandbox mode on loopback. `router` replaces the default dialog
    router (a router passed in is used as given unless install=True). With the flows installed, every
    background task (worker, timers, recovery, alert threads, pollers) starts and stops with the app
    through one registry (dialogs.tasks)."""
    settings = runtime.settings
    refusal = exposure_refusal(settings)
    if refusal:
        raise SettingsError(refusal)
    auth_off = not settings.app_id
    if install is None:
        install = router is None
    if router is None:
        router = Router(on_reference=reference_sink(runtime.store))
    gateway = Gateway(router, bot_app_id=settings.app_id, auth_off=auth_off, sandbox=settings.sandbox)
    gateway.adapter = adapter
    tasks = Tasks()
    parts = Parts(auth_off=auth_off, gateway=gateway, tasks=tasks)

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SETTINGS_KEY] = settings
    app[RUNTIME_KEY] = runtime
    app[PARTS_KEY] = parts
    app.router.add_post("/api/messages", _messages)
    app.router.add_get("/healthz", _healthz)
    app.router.add_post("/api/alerts", _alerts_webhook)
    tasks.add("gateway", stop=gateway.drain)  # the turns' deferred work: stopped last (reverse order)
    if install and runtime.store is not None and runtime.tenant is not None:
        deps = install_flows(parts, runtime, router)
        install_alert_threads(parts, runtime, router, deps)

    async def start(_app: web.Application) -> None:
        await tasks.start()

    async def stop(_app: web.Application) -> None:
        await tasks.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    return app


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
    threads = request.app[PARTS_KEY].alert_threads
    if runtime.store is None or runtime.tenant is None:
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
    if threads is not None and result.needs_post:
        threads.spawn(threads.deliver(result))
    return response


def listening_line(settings: Settings, auth_off: bool) -> str:
    """The one start-up line: where, which tenant, whether authentication is on."""
    tenant = "sandbox tenant" if settings.tenant is None else f"tenant {settings.tenant.tenant_id}"
    auth = "authentication OFF — local use only" if auth_off else "authentication on"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"Contain listening on http://{host}:{settings.port} ({tenant}, {auth})"
