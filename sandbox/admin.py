"""Admin endpoints under /_sandbox/ (no Graph auth; loopback callers only): info, reset, the write and
request logs, fault rules, app permissions and certificates, run-time options, and raising alerts."""

from __future__ import annotations

import ipaddress
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from cryptography import x509

from sandbox.auth import thumbprints
from sandbox.fixture import iso
from sandbox.routing import SERVER

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

_SEVERITIES = ("low", "medium", "high")


def _server(request: web.Request) -> SandboxServer:
    remote = request.remote or ""
    try:
        loopback = ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise web.HTTPForbidden(text="The sandbox admin API answers loopback callers only.")
    return request.app[SERVER]  # type: ignore[no-any-return]


def _problem(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": {"code": "BadRequest", "message": message}}, status=status)


async def _json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"{}")
    except ValueError:
        raise web.HTTPBadRequest(text="The body must be JSON.") from None


async def info(request: web.Request) -> web.Response:
    return web.json_response(_server(request).info())


async def reset(request: web.Request) -> web.Response:
    server = _server(request)
    server.reset()
    return web.json_response({"reset": True})


async def writes(request: web.Request) -> web.Response:
    return web.json_response({"value": [w.to_json() for w in _server(request).write_log]})


async def requests_(request: web.Request) -> web.Response:
    return web.json_response({"value": [r.to_json() for r in _server(request).request_log]})


async def state(request: web.Request) -> web.Response:
    return web.json_response(_server(request).state.snapshot())


async def faults_get(request: web.Request) -> web.Response:
    return web.json_response(_server(request).faults.to_json())


async def faults_post(request: web.Request) -> web.Response:
    server = _server(request)
    body = await _json(request)
    try:
        server.faults.configure(body, replace=bool(body.get("replace")) if isinstance(body, dict) else False)
    except (ValueError, TypeError) as exc:
        return _problem(str(exc))
    return web.json_response(server.faults.to_json())


async def faults_delete(request: web.Request) -> web.Response:
    server = _server(request)
    server.faults.clear()
    server.faults.base_latency_ms = 0.0
    return web.json_response(server.faults.to_json())


async def options(request: web.Request) -> web.Response:
    server = _server(request)
    body = await _json(request)
    if not isinstance(body, dict) or not set(body) <= set(server.state.options):
        return _problem(f"Options are {sorted(server.state.options)}.")
    server.state.options.update(body)
    return web.json_response(server.state.options)


async def app_permissions(request: web.Request) -> web.Response:
    server = _server(request)
    app = server.state.app(request.match_info["client_id"])
    if app is None:
        return _problem("No such app.", 404)
    body = await _json(request)
    for key, field in (("remove", "permissions"), ("removeRoles", "directoryRoles"),
                       ("removeExchangeRoles", "exchangeRoles")):
        app[field] = [p for p in app.get(field, []) if p not in set(body.get(key, []))]
    for key, field in (("add", "permissions"), ("addRoles", "directoryRoles"), ("addExchangeRoles", "exchangeRoles")):
        app[field] = [*app.get(field, []), *[p for p in body.get(key, []) if p not in app.get(field, [])]]
    server.state.save()
    return web.json_response({"permissions": app["permissions"], "directoryRoles": app.get("directoryRoles", []),
                              "exchangeRoles": app.get("exchangeRoles", [])})


async def app_certificates(request: web.Request) -> web.Response:
    server = _server(request)
    app = server.state.app(request.match_info["client_id"])
    if app is None:
        return _problem("No such app.", 404)
    raw = (await request.read()).decode(errors="replace")
    pem = raw
    if raw.lstrip().startswith("{"):
        pem = str(json.loads(raw).get("pem", ""))
    start = pem.find("-----BEGIN CERTIFICATE-----")
    end = pem.find("-----END CERTIFICATE-----")
    if start < 0 or end < 0:
        return _problem("Send a PEM certificate (the private key is never needed).")
    pem = pem[start:end + len("-----END CERTIFICATE-----")] + "\n"
    try:
        x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return _problem("The certificate PEM cannot be read.")
    x5t, x5t256 = thumbprints(pem)
    app.setdefault("certificates", [])
    if not any(c["pem"] == pem for c in app["certificates"]):
        app["certificates"].append({"pem": pem})
    server.state.save()
    return web.json_response({"x5t": x5t, "x5t#S256": x5t256}, status=201)


async def alerts(request: web.Request) -> web.Response:
    server = _server(request)
    body = await _json(request)
    try:
        result = raise_alert(server, body)
    except ValueError as exc:
        return _problem(str(exc))
    return web.json_response(result, status=201)


def raise_alert(server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
    """Make an account risky (Identity Protection) or add a Defender alert with user evidence."""
    who = str(body.get("user", ""))
    user = server.state.find_user(who) or next(
        (u for u in server.state.users if u["userPrincipalName"].split("@")[0].lower() == who.lower()), None)
    if user is None:
        raise ValueError(f"No user matches {body.get('user')!r}.")
    kind = body.get("kind", "defender")
    severity = str(body.get("severity", "high")).lower()
    if severity not in _SEVERITIES or kind not in ("risky_user", "defender"):
        raise ValueError("kind must be risky_user or defender; severity low, medium or high.")
    now = iso(datetime.now(UTC))
    if kind == "risky_user":
        risky = server.state.risky_user(user["id"])
        if risky is None:
            risky = {"id": user["id"], "isDeleted": False, "isProcessing": False,
                     "userDisplayName": user["displayName"], "userPrincipalName": user["userPrincipalName"]}
            server.state.data["riskyUsers"].append(risky)
        risky.update(riskLevel=severity, riskState="atRisk", riskDetail="none", riskLastUpdatedDateTime=now)
        server.state.save()
        return {"kind": kind, "id": user["id"], "riskLastUpdatedDateTime": now}
    alert_id = "da" + uuid.uuid4().hex
    server.state.data["alerts"].append({
        "id": alert_id, "providerAlertId": uuid.uuid4().hex, "incidentId": str(len(server.state.data["alerts"]) + 100),
        "status": "new", "severity": severity, "classification": None, "determination": None,
        "serviceSource": "microsoftDefenderForOffice365", "detectionSource": "microsoftDefenderForOffice365",
        "detectorId": uuid.uuid4().hex, "tenantId": server.state.tenant_id,
        "title": body.get("title") or "Suspicious email forwarding activity",
        "description": body.get("description") or f"{user['displayName']} shows signs of a compromised mailbox.",
        "recommendedActions": "", "category": "InitialAccess", "assignedTo": None,
        "alertWebUrl": f"https://security.microsoft.com/alerts/{alert_id}", "incidentWebUrl": None,
        "actorDisplayName": None, "threatDisplayName": None, "threatFamilyName": None, "mitreTechniques": ["T1114.003"],
        "createdDateTime": now, "lastUpdateDateTime": now, "resolvedDateTime": None,
        "firstActivityDateTime": now, "lastActivityDateTime": now, "comments": [], "systemTags": [],
        "evidence": [{
            "@odata.type": "#microsoft.graph.security.userEvidence", "createdDateTime": now, "verdict": "suspicious",
            "remediationStatus": "none", "remediationStatusDetails": None, "roles": [], "tags": [],
            "userAccount": {"accountName": user["userPrincipalName"].split("@")[0],
                            "domainName": user["userPrincipalName"].split("@")[1], "userSid": None,
                            "azureAdUserId": user["id"], "userPrincipalName": user["userPrincipalName"],
                            "displayName": user["displayName"]}}],
    })
    server.state.save()
    return {"kind": kind, "id": alert_id, "createdDateTime": now}


def register(app: web.Application) -> None:
    r = app.router
    r.add_get("/_sandbox/info", info)
    r.add_post("/_sandbox/reset", reset)
    r.add_get("/_sandbox/writes", writes)
    r.add_get("/_sandbox/requests", requests_)
    r.add_get("/_sandbox/state", state)
    r.add_get("/_sandbox/faults", faults_get)
    r.add_post("/_sandbox/faults", faults_post)
    r.add_delete("/_sandbox/faults", faults_delete)
    r.add_post("/_sandbox/options", options)
    r.add_post("/_sandbox/apps/{client_id}/permissions", app_permissions)
    r.add_post("/_sandbox/apps/{client_id}/certificates", app_certificates)
    r.add_post("/_sandbox/alerts", alerts)
    from sandbox.devicecode import admin_complete, admin_pending

    r.add_post("/_sandbox/devicelogin", admin_complete)
    r.add_get("/_sandbox/devicelogin", admin_pending)
