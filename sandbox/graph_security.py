"""Graph security: Secure Score history and control profiles, the Audit Log Query API (asynchronous:
a query is notStarted, then running, then succeeded after a configurable delay) and Defender alerts_v2."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sandbox import odata
from sandbox.errors import GraphError, bad_request, not_found
from sandbox.fixture import iso
from sandbox.routing import Call, Route, graph

ROUTES: list[Route] = []

SCORE_READ = ("SecurityEvents.Read.All", "SecurityEvents.ReadWrite.All")
AUDIT_QUERY = ("AuditLogsQuery.Read.All", "AuditLogsQuery-Exchange.Read.All", "AuditLogsQuery-Entra.Read.All")
ALERT_READ = ("SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All")
_QUERY_FIELDS = {"@odata.type", "displayName", "filterStartDateTime", "filterEndDateTime", "recordTypeFilters",
                 "keywordFilter", "serviceFilters", "operationFilters", "userPrincipalNameFilters",
                 "ipAddressFilters", "objectIdFilters", "administrativeUnitIdFilters"}
ALERT_FILTER = {
    "createdDateTime": odata.field("createdDateTime", "datetime", ("gt", "ge", "lt", "le")),
    "lastUpdateDateTime": odata.field("lastUpdateDateTime", "datetime", ("gt", "ge", "lt", "le")),
    "status": odata.field("status", "enum", ("eq", "ne")), "severity": odata.field("severity", "enum", ("eq", "ne")),
    "serviceSource": odata.field("serviceSource", "enum"), "detectionSource": odata.field("detectionSource", "enum"),
}


@graph(ROUTES, "GET", "/security/secureScores", perms=SCORE_READ, query={"$top", "$skiptoken"})
async def secure_scores(call: Call) -> web.Response:
    return call.page(call.state.data["secureScores"], context="security/secureScores", default_size=100,
                     max_size=500)


@graph(ROUTES, "GET", "/security/secureScoreControlProfiles", perms=SCORE_READ,
       query={"$top", "$skiptoken", "$filter"})
async def control_profiles(call: Call) -> web.Response:
    items = list(call.state.data["secureScoreControlProfiles"])
    if "$filter" in call.query:
        match = odata.compile_filter(call.query["$filter"], {"controlCategory": odata.field("controlCategory"),
                                                              "id": odata.field("id", ops=("eq", "in"))},
                                     "secureScoreControlProfile")
        items = [i for i in items if match(i)]
    return call.page(items, context="security/secureScoreControlProfiles", default_size=100, max_size=500)


def _query_view(call: Call, q: dict[str, Any]) -> dict[str, Any]:
    age = (datetime.now(UTC) - datetime.fromisoformat(q["_created"])).total_seconds()
    delay = float(call.state.options["auditQueryDelayS"])
    status = "succeeded" if age >= delay else ("running" if age >= delay / 5 else "notStarted")
    return {"@odata.type": "#microsoft.graph.security.auditLogQuery", "status": status,
            **{k: v for k, v in q.items() if not k.startswith("_")}}


def _parse_date(body: dict[str, Any], key: str) -> datetime:
    value = body.get(key)
    parsed = odata.parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise bad_request(f"'{key}' must be a date and time such as 2024-01-01T00:00:00Z.")
    return parsed


def _matches(q: dict[str, Any], r: dict[str, Any], start: datetime, end: datetime) -> bool:
    created = datetime.fromisoformat(r["createdDateTime"].replace("Z", "+00:00"))
    if not start <= created <= end:
        return False

    def within(values: list[str] | None, *candidates: Any) -> bool:
        if not values:
            return True
        wanted = {v.casefold() for v in values}
        return any(isinstance(c, str) and c.casefold() in wanted for c in candidates)

    return (within(q.get("recordTypeFilters"), r.get("auditLogRecordType"))
            and within(q.get("operationFilters"), r.get("operation"))
            and within(q.get("userPrincipalNameFilters"), r.get("userPrincipalName"), r.get("userId"))
            and within(q.get("ipAddressFilters"), r.get("clientIp"))
            and within(q.get("objectIdFilters"), r.get("objectId"))
            and within(q.get("serviceFilters"), r.get("service")))


@graph(ROUTES, "POST", "/security/auditLog/queries", perms=AUDIT_QUERY, write=False)
async def create_query(call: Call) -> web.Response:
    body = call.body
    if not isinstance(body, dict):
        raise bad_request("A JSON object is expected.")
    unknown = [k for k in body if k not in _QUERY_FIELDS]
    if unknown:
        raise bad_request(f"The property '{unknown[0]}' does not exist on type 'microsoft.graph.security."
                          "auditLogQuery'.")
    start, end = _parse_date(body, "filterStartDateTime"), _parse_date(body, "filterEndDateTime")
    if end <= start:
        raise bad_request("filterEndDateTime must be after filterStartDateTime.")
    for key in _QUERY_FIELDS - {"@odata.type", "displayName", "filterStartDateTime", "filterEndDateTime",
                                "keywordFilter"}:
        if key in body and not (isinstance(body[key], list) and all(isinstance(v, str) for v in body[key])):
            raise bad_request(f"'{key}' must be a list of strings.")
    q = {"id": str(uuid.uuid4()), "displayName": body.get("displayName"),
         "filterStartDateTime": iso(start), "filterEndDateTime": iso(end),
         **{k: body.get(k, []) for k in ("recordTypeFilters", "operationFilters", "userPrincipalNameFilters",
                                         "ipAddressFilters", "objectIdFilters", "administrativeUnitIdFilters",
                                         "serviceFilters")},
         "keywordFilter": body.get("keywordFilter"), "_created": call.now.isoformat()}
    q["_records"] = [r["id"] for r in call.state.data["auditRecords"] if _matches(q, r, start, end)]
    call.state.data["auditQueries"].append(q)
    view = _query_view(call, q)
    view["status"] = "notStarted"
    return call.ok(view, context="security/auditLog/queries/$entity", status=201)


def _query(call: Call) -> dict[str, Any]:
    queries: list[dict[str, Any]] = call.state.data["auditQueries"]
    for q in queries:
        if q["id"] == call.params["id"]:
            return q
    raise not_found(call.params["id"])


@graph(ROUTES, "GET", "/security/auditLog/queries/{id}", perms=AUDIT_QUERY)
async def get_query(call: Call) -> web.Response:
    return call.ok(_query_view(call, _query(call)), context="security/auditLog/queries/$entity")


@graph(ROUTES, "GET", "/security/auditLog/queries/{id}/records", perms=AUDIT_QUERY, query={"$top", "$skiptoken"})
async def query_records(call: Call) -> web.Response:
    q = _query(call)
    if _query_view(call, q)["status"] != "succeeded":
        raise GraphError(400, "BadRequest", "The audit log query has not completed yet; poll its status first.")
    by_id = {r["id"]: r for r in call.state.data["auditRecords"]}
    items = [{"@odata.type": "#microsoft.graph.security.auditLogRecord", **by_id[i]} for i in q["_records"]
             if i in by_id]
    return call.page(items, context=f"security/auditLog/queries('{q['id']}')/records", default_size=150,
                     max_size=1000)


@graph(ROUTES, "GET", "/security/alerts_v2", perms=ALERT_READ, query={"$filter", "$top", "$skiptoken", "$orderby"})
async def alerts(call: Call) -> web.Response:
    items = [{"@odata.type": "#microsoft.graph.security.alert", **a} for a in call.state.data["alerts"]]
    if "$filter" in call.query:
        match = odata.compile_filter(call.query["$filter"], ALERT_FILTER, "alert")
        items = [a for a in items if match(a)]
    order = odata.parse_orderby(call.query.get("$orderby"), ("createdDateTime", "lastUpdateDateTime"))
    key, desc = order or ("createdDateTime", False)
    items.sort(key=lambda a: a.get(key) or "", reverse=desc)
    return call.page(items, context="security/alerts_v2", default_size=100, max_size=2000)


@graph(ROUTES, "GET", "/security/alerts_v2/{id}", perms=ALERT_READ)
async def alert(call: Call) -> web.Response:
    for a in call.state.data["alerts"]:
        if a["id"] == call.params["id"]:
            return call.ok({"@odata.type": "#microsoft.graph.security.alert", **a},
                           context="security/alerts_v2/$entity")
    raise not_found(call.params["id"])
