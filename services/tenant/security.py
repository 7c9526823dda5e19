"""Security reads: Secure Score, the Audit Log Query API (slow, asynchronous: never on the
investigation's path) and Defender alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from msgraph.generated.models.security.user_evidence import UserEvidence
from msgraph.generated.security.alerts_v2.alerts_v2_request_builder import Alerts_v2RequestBuilder
from msgraph.generated.security.secure_scores.secure_scores_request_builder import SecureScoresRequestBuilder

from services.tenant.base import TenantBase, config, enum_text, parse_time
from services.tenant.models import AuditQuery, AuditRecord, ControlProfile, SecureScore, SecurityAlert

SCORES = "SecurityEvents.Read.All"
AUDIT = "AuditLogsQuery.Read.All"
ALERTS = "SecurityAlert.Read.All"


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value or () if isinstance(v, dict)] if isinstance(value, list) else []


def _number(value: Any) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


class SecurityOps(TenantBase):
    # These reads take the JSON path (`_get_json`/`_list_json`): hydrating the first security model in a
    # process imports the SDK's whole model tree (over a thousand modules, more than a second on the
    # event loop), which the closing summary would otherwise pay while the bot answers nothing.
    async def list_secure_scores(self, *, top: int = 31) -> list[SecureScore]:
        """Newest first: today's score and up to `top - 1` days of history."""
        query = SecureScoresRequestBuilder.SecureScoresRequestBuilderGetQueryParameters(top=top)
        page = await self._get_json("GET /security/secureScores", SCORES, self.graph.security.secure_scores, query)
        out = []
        for s in _dicts(page.get("value")):
            out.append(SecureScore(
                created=parse_time(s.get("createdDateTime")), current_score=_number(s.get("currentScore")),
                max_score=_number(s.get("maxScore")),
                averages=tuple({"basis": a.get("basis"), "averageScore": a.get("averageScore")}
                               for a in _dicts(s.get("averageComparativeScores"))),
                control_scores=tuple({"controlName": c.get("controlName"), "controlCategory": c.get("controlCategory"),
                                      "score": c.get("score"), "description": c.get("description")}
                                     for c in _dicts(s.get("controlScores")))))
        out.sort(key=lambda s: s.created or datetime.min.replace(tzinfo=UTC), reverse=True)
        return out

    async def list_control_profiles(self) -> list[ControlProfile]:
        items = await self._list_json("GET /security/secureScoreControlProfiles", SCORES,
                                      self.graph.security.secure_score_control_profiles)
        return [ControlProfile(id=str(p.get("id") or ""), title=str(p.get("title") or p.get("id") or ""),
                               max_score=_number(p.get("maxScore")), category=p.get("controlCategory"),
                               action_url=p.get("actionUrl"), tier=p.get("tier"), deprecated=bool(p.get("deprecated")),
                               user_impact=p.get("userImpact"), implementation_cost=p.get("implementationCost"))
                for p in items]

    # ---- Audit Log Query API: create, poll, read ---------------------------------------------
    async def create_audit_query(self, *, display_name: str, start: datetime, end: datetime,
                                 user_principal_names: list[str] | None = None,
                                 operations: list[str] | None = None) -> AuditQuery:
        body: dict[str, Any] = {"@odata.type": "#microsoft.graph.security.auditLogQuery", "displayName": display_name,
                                "filterStartDateTime": _iso(start), "filterEndDateTime": _iso(end)}
        if user_principal_names:
            body["userPrincipalNameFilters"] = list(user_principal_names)
        if operations:
            body["operationFilters"] = list(operations)
        q = await self._post_json("POST /security/auditLog/queries", AUDIT, self.graph.security.audit_log.queries, body)
        return AuditQuery(id=str(q.get("id") or ""), status=str(q.get("status") or "notStarted"))

    async def get_audit_query(self, *, query_id: str) -> AuditQuery:
        q = await self._get_json("GET /security/auditLog/queries/{id}", AUDIT,
                                 self.graph.security.audit_log.queries.by_audit_log_query_id(query_id))
        return AuditQuery(id=query_id, status=str(q.get("status") or "notStarted"))

    async def list_audit_records(self, *, query_id: str, limit: int = 1000) -> list[AuditRecord]:
        items = await self._list_json("GET /security/auditLog/queries/{id}/records", AUDIT,
                                      self.graph.security.audit_log.queries.by_audit_log_query_id(query_id).records,
                                      limit=limit)
        out = []
        for r in items:
            data = r.get("auditData")
            out.append(AuditRecord(id=str(r.get("id") or ""), created=parse_time(r.get("createdDateTime")),
                                   operation=r.get("operation"), user_principal_name=r.get("userPrincipalName"),
                                   object_id=r.get("objectId"), client_ip=r.get("clientIp"),
                                   audit_data=data if isinstance(data, dict) else {}))
        return out

    # ---- Defender alerts -----------------------------------------------------------------------
    async def list_alerts(self, *, created_after: datetime | None = None, top: int = 100) -> list[SecurityAlert]:
        """alerts_v2 oldest first after the cursor, with the users named in each alert's evidence."""
        query = Alerts_v2RequestBuilder.Alerts_v2RequestBuilderGetQueryParameters(
            filter=f"createdDateTime gt {_iso(created_after)}" if created_after else None, top=top)
        builder = self.graph.security.alerts_v2
        items = await self._graph_pages("GET /security/alerts_v2", ALERTS, builder.get(config(query)),
                                        lambda link: builder.with_url(link).get(config()))
        out = []
        for a in items:
            users = tuple((e.user_account.azure_ad_user_id, e.user_account.user_principal_name)
                          for e in a.evidence or [] if isinstance(e, UserEvidence) and e.user_account)
            out.append(SecurityAlert(id=a.id or "", title=a.title, severity=enum_text(a.severity),
                                     status=enum_text(a.status), created=a.created_date_time,
                                     service_source=enum_text(a.service_source), users=users))
        out.sort(key=lambda a: a.created or datetime.min)
        return out
