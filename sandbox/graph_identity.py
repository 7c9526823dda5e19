"""Graph identity: sign-in logs, Identity Protection risky users, authentication methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from sandbox import odata
from sandbox.errors import GraphError, bad_request, not_found
from sandbox.fixture import iso
from sandbox.routing import Call, Route, graph

ROUTES: list[Route] = []

SIGNIN_FILTER = {
    "userPrincipalName": odata.field("userPrincipalName", ops=("eq", "startswith")),
    "userId": odata.field("userId"), "appId": odata.field("appId"), "ipAddress": odata.field("ipAddress"),
    "clientAppUsed": odata.field("clientAppUsed"), "isInteractive": odata.field("isInteractive", "bool"),
    "createdDateTime": odata.field("createdDateTime", "datetime", ("gt", "ge", "lt", "le", "eq")),
    "status/errorCode": odata.field("status/errorCode", "num", ("eq", "ne")),
    "riskLevelDuringSignIn": odata.field("riskLevelDuringSignIn", "enum"),
    "location/countryOrRegion": odata.field("location/countryOrRegion"),
}
# beta only: every sign-in kind is in one log, told apart by signInEventTypes; without a clause on it
# beta answers interactive sign-ins only, as v1.0 always does.
BETA_SIGNIN_FILTER = {
    **SIGNIN_FILTER,
    "signInEventTypes": odata.collection("signInEventTypes", {"": odata.element("enum", ("eq", "ne"))}),
}
RISKY_FILTER = {
    "riskLevel": odata.field("riskLevel", "enum", ("eq", "ne", "in")),
    "riskState": odata.field("riskState", "enum", ("eq", "ne", "in")),
    "riskLastUpdatedDateTime": odata.field("riskLastUpdatedDateTime", "datetime", ("gt", "ge", "lt", "le")),
    "userPrincipalName": odata.field("userPrincipalName", ops=("eq", "startswith")), "id": odata.field("id"),
}
RISK_READ = ("IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All")
METHOD_READ = ("UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All")
METHOD_TYPES = {
    "password": "#microsoft.graph.passwordAuthenticationMethod",
    "microsoftAuthenticator": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
    "phone": "#microsoft.graph.phoneAuthenticationMethod",
    "email": "#microsoft.graph.emailAuthenticationMethod",
    "fido2": "#microsoft.graph.fido2AuthenticationMethod",
    "softwareOath": "#microsoft.graph.softwareOathAuthenticationMethod",
    "temporaryAccessPass": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
    "windowsHelloForBusiness": "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
}


def _filtered(call: Call, items: list[dict[str, Any]], fields: dict[str, odata.Field],
              resource: str) -> list[dict[str, Any]]:
    if "$filter" not in call.query:
        return items
    match = odata.compile_filter(call.query["$filter"], fields, resource)
    return [i for i in items if match(i)]


@graph(ROUTES, "GET", "/auditLogs/signIns", perms=("AuditLog.Read.All",),
       query={"$filter", "$top", "$skiptoken", "$orderby"})
async def sign_ins(call: Call) -> web.Response:
    call.state.require_licence("P1")
    items = [_sign_in(call, s) for s in call.state.data["signIns"]]
    if call.version == "v1.0" or "signineventtypes" not in call.query.get("$filter", "").lower():
        items = [s for s in items if s.get("isInteractive", True)]
    items = _filtered(call, items, BETA_SIGNIN_FILTER if call.version == "beta" else SIGNIN_FILTER, "signIn")
    order = odata.parse_orderby(call.query.get("$orderby"), ("createdDateTime",))
    if order:
        items.sort(key=lambda s: s["createdDateTime"], reverse=order[1])
    return call.page(items, context="auditLogs/signIns", default_size=int(call.state.options["graphPageSize"]),
                     max_size=1000)


@graph(ROUTES, "GET", "/auditLogs/signIns/{id}", perms=("AuditLog.Read.All",))
async def sign_in(call: Call) -> web.Response:
    call.state.require_licence("P1")
    for s in call.state.data["signIns"]:
        if s["id"] == call.params["id"] and (call.version == "beta" or s.get("isInteractive", True)):
            return call.ok(_sign_in(call, s), context="auditLogs/signIns/$entity")
    raise not_found(call.params["id"])


def _sign_in(call: Call, stored: dict[str, Any]) -> dict[str, Any]:
    """A stored sign-in as the version asked shows it: v1.0 has no signInEventTypes."""
    if call.version != "beta":
        return stored
    kind = "interactiveUser" if stored.get("isInteractive", True) else "nonInteractiveUser"
    return {**stored, "signInEventTypes": [kind]}


@graph(ROUTES, "GET", "/identityProtection/riskyUsers", perms=RISK_READ,
       query={"$filter", "$top", "$skiptoken", "$orderby"})
async def risky_users(call: Call) -> web.Response:
    call.state.require_licence("P2")
    items = _filtered(call, list(call.state.data["riskyUsers"]), RISKY_FILTER, "riskyUser")
    order = odata.parse_orderby(call.query.get("$orderby"), ("riskLastUpdatedDateTime",))
    if order:
        items.sort(key=lambda r: r.get("riskLastUpdatedDateTime") or "", reverse=order[1])
    return call.page(items, context="identityProtection/riskyUsers", default_size=100, max_size=500)


@graph(ROUTES, "GET", "/identityProtection/riskyUsers/{id}", perms=RISK_READ)
async def risky_user(call: Call) -> web.Response:
    call.state.require_licence("P2")
    risky = call.state.risky_user(call.params["id"])
    if risky is None:
        raise not_found(call.params["id"])
    return call.ok(risky, context="identityProtection/riskyUsers/$entity")


def _risk_change(change: Callable[[Call, dict[str, Any]], None]) -> Callable[[Call], Any]:
    async def handler(call: Call) -> web.Response:
        call.state.require_licence("P2")
        ids = call.body.get("userIds") if isinstance(call.body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids) or len(ids) > 60:
            raise bad_request("userIds must be a list of 1 to 60 user ids.")
        users = []
        for uid in ids:
            user = call.state.find_user(uid)
            if user is None:
                raise not_found(uid)
            users.append(user)
        for user in users:
            risky = call.state.risky_user(user["id"])
            if risky is None:
                risky = {"id": user["id"], "isDeleted": False, "isProcessing": False, "riskDetail": "none",
                         "riskLevel": "none", "riskState": "none", "userDisplayName": user["displayName"],
                         "userPrincipalName": user["userPrincipalName"]}
                call.state.data["riskyUsers"].append(risky)
            change(call, risky)
            risky["riskLastUpdatedDateTime"] = iso(call.now)
        call.target = ",".join(u["id"] for u in users)
        return call.no_content()

    return handler


def _confirm(call: Call, risky: dict[str, Any]) -> None:
    risky.update(riskLevel="high", riskState="confirmedCompromised", riskDetail="adminConfirmedUserCompromised")


def _dismiss(call: Call, risky: dict[str, Any]) -> None:
    risky.update(riskLevel="none", riskState="dismissed", riskDetail="adminDismissedAllRiskForUser")


graph(ROUTES, "POST", "/identityProtection/riskyUsers/confirmCompromised",
      perms=("IdentityRiskyUser.ReadWrite.All",))(_risk_change(_confirm))
graph(ROUTES, "POST", "/identityProtection/riskyUsers/dismiss",
      perms=("IdentityRiskyUser.ReadWrite.All",))(_risk_change(_dismiss))


# Each method type's properties in Microsoft's v1.0 metadata (createdDateTime comes from the base type).
# No type has an IP address; phone and email methods carry no creation date in Graph's answers, so when
# and from where they were registered is only in the directory audit log.
METHOD_PROPERTIES = {
    "password": ("createdDateTime", "password"),
    "microsoftAuthenticator": ("createdDateTime", "deviceTag", "displayName", "phoneAppVersion"),
    "phone": ("phoneNumber", "phoneType", "smsSignInState"),
    "email": ("emailAddress",),
    "fido2": ("createdDateTime", "aaGuid", "attestationCertificates", "attestationLevel", "displayName", "model",
              "passkeyType"),
    "softwareOath": ("createdDateTime", "secretKey"),
    "temporaryAccessPass": ("createdDateTime", "isUsable", "isUsableOnce", "lifetimeInMinutes",
                            "methodUsabilityReason", "startDateTime", "temporaryAccessPass"),
    "windowsHelloForBusiness": ("createdDateTime", "displayName", "keyStrength"),
}
DIRECTORY_AUDIT_FILTER = {
    "activityDateTime": odata.field("activityDateTime", "datetime", ("eq", "ge", "le")),
    "activityDisplayName": odata.field("activityDisplayName", ops=("eq", "startswith")),
    "category": odata.field("category"), "correlationId": odata.field("correlationId"), "id": odata.field("id"),
    "loggedByService": odata.field("loggedByService"), "result": odata.field("result", "enum"),
    "initiatedBy/user/id": odata.field("initiatedBy/user/id"),
    "initiatedBy/user/userPrincipalName": odata.field("initiatedBy/user/userPrincipalName", ops=("eq", "startswith")),
    "targetResources": odata.collection("targetResources", {
        "id": odata.field("id"), "displayName": odata.field("displayName", ops=("eq", "startswith")),
        "userPrincipalName": odata.field("userPrincipalName", ops=("eq", "startswith"))}),
}


def method_kind(method: dict[str, Any]) -> str:
    return next((k for k, t in METHOD_TYPES.items() if t == method.get("@odata.type")), "unknown")


def render_method(method: dict[str, Any]) -> dict[str, Any]:
    """A stored method as Graph answers it: its type's properties only."""
    keep = METHOD_PROPERTIES.get(method_kind(method), ())
    return {"@odata.type": method["@odata.type"], "id": method["id"],
            **{k: method.get(k) for k in keep if k in method or k == "createdDateTime"}}


@graph(ROUTES, "GET", "/users/{id}/authentication/methods", perms=METHOD_READ)
async def methods(call: Call) -> web.Response:
    user = call.state.user(call.params["id"])
    items = [render_method(m) for m in call.state.data["authenticationMethods"].get(user["id"], [])]
    return call.ok({"value": items}, context=f"users('{user['id']}')/authentication/methods")


# Which method a default second factor (userPreferredMethodForSecondaryAuthentication) points at.
DEFAULT_MODES = {"push": ("microsoftAuthenticator", None), "oath": ("softwareOath", None),
                 "sms": ("phone", "mobile"), "voiceMobile": ("phone", "mobile"),
                 "voiceAlternateMobile": ("phone", "alternateMobile"), "voiceOffice": ("phone", "office")}


def default_method(call: Call, user_id: str) -> dict[str, Any] | None:
    prefs = call.state.data["signInPreferences"].get(user_id) or {}
    mode = DEFAULT_MODES.get(str(prefs.get("userPreferredMethodForSecondaryAuthentication")))
    if mode is None:
        return None
    kind, phone = mode
    return next((m for m in call.state.data["authenticationMethods"].get(user_id, [])
                 if method_kind(m) == kind and (phone is None or m.get("phoneType") == phone)), None)


@graph(ROUTES, "GET", "/users/{id}/authentication/signInPreferences", perms=METHOD_READ)
async def sign_in_preferences(call: Call) -> web.Response:
    if call.version != "beta":
        raise GraphError(400, "BadRequest", "Resource not found for the segment 'signInPreferences'.")
    user = call.state.user(call.params["id"])
    prefs = call.state.data["signInPreferences"].get(user["id"]) or {
        "isSystemPreferredAuthenticationMethodEnabled": False, "userPreferredMethodForSecondaryAuthentication": None}
    return call.ok(dict(prefs),
                   context=f"users('{user['id']}')/authentication/signInPreferences")


@graph(ROUTES, "PATCH", "/users/{id}/authentication/signInPreferences",
       perms=("UserAuthenticationMethod.ReadWrite.All",))
async def set_sign_in_preferences(call: Call) -> web.Response:
    if call.version != "beta":
        raise GraphError(400, "BadRequest", "Resource not found for the segment 'signInPreferences'.")
    user = call.state.user(call.params["id"])
    body = call.body if isinstance(call.body, dict) else {}
    unknown = set(body) - {"userPreferredMethodForSecondaryAuthentication",
                           "isSystemPreferredAuthenticationMethodEnabled"}
    if not body or unknown:
        raise bad_request(f"Invalid property: {', '.join(sorted(unknown)) or 'empty body'}.")
    mode = body.get("userPreferredMethodForSecondaryAuthentication")
    prefs = call.state.data["signInPreferences"].setdefault(user["id"], {
        "isSystemPreferredAuthenticationMethodEnabled": False, "userPreferredMethodForSecondaryAuthentication": None})
    if mode is not None:
        if mode not in DEFAULT_MODES:
            raise bad_request(f"Invalid value '{mode}' for userPreferredMethodForSecondaryAuthentication.")
        prefs["userPreferredMethodForSecondaryAuthentication"] = mode
        if default_method(call, user["id"]) is None:
            prefs["userPreferredMethodForSecondaryAuthentication"] = None
            raise bad_request("The user has no registered method for the requested default.")
    call.target, call.logged_body = user["id"], body
    return call.no_content()


@graph(ROUTES, "GET", "/auditLogs/directoryAudits", perms=("AuditLog.Read.All",),
       query={"$filter", "$top", "$skiptoken", "$orderby"})
async def directory_audits(call: Call) -> web.Response:
    items = _filtered(call, list(call.state.data.get("directoryAudits", [])), DIRECTORY_AUDIT_FILTER,
                      "directoryAudit")
    order = odata.parse_orderby(call.query.get("$orderby"), ("activityDateTime",))
    if order:
        items.sort(key=lambda e: e["activityDateTime"], reverse=order[1])
    return call.page(items, context="auditLogs/directoryAudits", default_size=100, max_size=1000)


def _method(call: Call, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    user = call.state.user(call.params["id"])
    items = call.state.data["authenticationMethods"].setdefault(user["id"], [])
    for m in items:
        if m["id"] == call.params["methodId"] and m.get("@odata.type") == METHOD_TYPES[kind]:
            return user, items, m
    raise not_found(call.params["methodId"])


def _method_routes(kind: str) -> None:
    template = f"/users/{{id}}/authentication/{kind}Methods/{{methodId}}"

    async def get_method(call: Call) -> web.Response:
        _, _, m = _method(call, kind)
        return call.ok(render_method(m), context=f"users('{call.params['id']}')/authentication/{kind}Methods/$entity")

    async def delete_method(call: Call) -> web.Response:
        if kind == "password":
            raise bad_request("The password authentication method cannot be deleted.", "badRequest")
        user, items, m = _method(call, kind)
        others = [o for o in items if o is not m and method_kind(o) != "password"]
        if others and default_method(call, user["id"]) is m:
            raise bad_request("Cannot delete default method with other methods configured. Please change default "
                              "method before deletion.", "badRequest")
        if kind == "phone" and m.get("phoneType") == "mobile" and any(
                method_kind(o) == "phone" and o.get("phoneType") == "alternateMobile" for o in others):
            raise bad_request("A user can't have an alternateMobile number without a mobile number: delete the "
                              "alternateMobile number first.", "badRequest")
        items.remove(m)
        if default_method(call, user["id"]) is None:
            prefs = call.state.data["signInPreferences"].get(user["id"])
            if prefs is not None:
                prefs["userPreferredMethodForSecondaryAuthentication"] = None
        call.target = f"{user['id']}/{m['id']}"
        return call.no_content()

    graph(ROUTES, "GET", template, perms=METHOD_READ)(get_method)
    graph(ROUTES, "DELETE", template, perms=("UserAuthenticationMethod.ReadWrite.All",))(delete_method)


for _kind in METHOD_TYPES:
    _method_routes(_kind)
