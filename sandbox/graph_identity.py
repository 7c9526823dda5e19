"""Graph identity: sign-in logs, Identity Protection risky users, authentication methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from sandbox import odata
from sandbox.errors import bad_request, not_found
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
    items = _filtered(call, list(call.state.data["signIns"]), SIGNIN_FILTER, "signIn")
    order = odata.parse_orderby(call.query.get("$orderby"), ("createdDateTime",))
    if order:
        items.sort(key=lambda s: s["createdDateTime"], reverse=order[1])
    return call.page(items, context="auditLogs/signIns", default_size=int(call.state.options["graphPageSize"]),
                     max_size=1000)


@graph(ROUTES, "GET", "/auditLogs/signIns/{id}", perms=("AuditLog.Read.All",))
async def sign_in(call: Call) -> web.Response:
    for s in call.state.data["signIns"]:
        if s["id"] == call.params["id"]:
            return call.ok(s, context="auditLogs/signIns/$entity")
    raise not_found(call.params["id"])


@graph(ROUTES, "GET", "/identityProtection/riskyUsers", perms=RISK_READ,
       query={"$filter", "$top", "$skiptoken", "$orderby"})
async def risky_users(call: Call) -> web.Response:
    items = _filtered(call, list(call.state.data["riskyUsers"]), RISKY_FILTER, "riskyUser")
    order = odata.parse_orderby(call.query.get("$orderby"), ("riskLastUpdatedDateTime",))
    if order:
        items.sort(key=lambda r: r.get("riskLastUpdatedDateTime") or "", reverse=order[1])
    return call.page(items, context="identityProtection/riskyUsers", default_size=100, max_size=500)


@graph(ROUTES, "GET", "/identityProtection/riskyUsers/{id}", perms=RISK_READ)
async def risky_user(call: Call) -> web.Response:
    risky = call.state.risky_user(call.params["id"])
    if risky is None:
        raise not_found(call.params["id"])
    return call.ok(risky, context="identityProtection/riskyUsers/$entity")


def _risk_change(change: Callable[[Call, dict[str, Any]], None]) -> Callable[[Call], Any]:
    async def handler(call: Call) -> web.Response:
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


@graph(ROUTES, "GET", "/users/{id}/authentication/methods", perms=METHOD_READ)
async def methods(call: Call) -> web.Response:
    user = call.state.user(call.params["id"])
    items = call.state.data["authenticationMethods"].get(user["id"], [])
    return call.ok({"value": items}, context=f"users('{user['id']}')/authentication/methods")


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
        return call.ok(m, context=f"users('{call.params['id']}')/authentication/{kind}Methods/$entity")

    async def delete_method(call: Call) -> web.Response:
        if kind == "password":
            raise bad_request("The password authentication method cannot be deleted.", "badRequest")
        user, items, m = _method(call, kind)
        items.remove(m)
        call.target = f"{user['id']}/{m['id']}"
        return call.no_content()

    graph(ROUTES, "GET", template, perms=METHOD_READ)(get_method)
    graph(ROUTES, "DELETE", template, perms=("UserAuthenticationMethod.ReadWrite.All",))(delete_method)


for _kind in METHOD_TYPES:
    _method_routes(_kind)
