"""Security reads: Secure Score, the Audit Log Query API (slow, asynchronous: never on the
investigation's path) and Defender alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgraph.generated.models.security.audit_log_query import AuditLogQuery
from msgraph.generated.models.security.user_evidence import UserEvidence
from msgraph.generated.security.alerts_v2.alerts_v2_request_builder import Alerts_v2RequestBuilder
from msgraph.generated.security.secure_scores.secure_scores_request_builder import SecureScoresRequestBuilder

from services.tenant_base import TenantBase, config, enum_text, to_json
from services.tenant_models import AuditQuery, AuditRecord, ControlProfile, SecureScore, SecurityAlert

SCORES = "SecurityEvents.Read.All"
AUDIT = "AuditLogsQuery.Read.All"
ALERTS = "SecurityAlert.Read.All"


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


class SecurityOps(TenantBase):
    async def list_secure_scores(self, *, top: int = 31) -> list[SecureScore]:
        """Newest first: today's score and up to `top - 1` days of history."""
        query = SecureScoresRequestBuilder.SecureScoresRequestBuilderGetQueryParameters(top=top)
        page = await self._graph_call("GET /security/secureScores", SCORES,
                                      self.graph.security.secure_scores.get(config(query)))
        out = []
        for s in (page.value if page else None) or []:
            out.append(SecureScore(
                created=s.created_date_time, current_score=float(s.current_score or 0.0),
                max_score=float(s.max_score or 0.0),
                averages=tuple({"basis": a.basis, "averageScore": a.average_score}
                               for a in s.average_comparative_scores or []),
                control_scores=tuple({"controlName": c.control_name, "controlCategory": c.control_category,
                                      "score": c.score, "description": c.description}
                                     for c in s.control_scores or [])))
        out.sort(key=lambda s: s.created or datetime.min, reverse=True)
        return out

    async def list_control_profiles(self) -> list[ControlProfile]:
        builder = self.graph.security.secure_score_control_profiles
        items = await self._graph_pages("GET /security/secureScoreControlProfiles", SCORES, builder.get(config()),
                                        lambda link: builder.with_url(link).get(config()))
        return [ControlProfile(id=p.id or "", title=p.title or p.id or "", max_score=float(p.max_score or 0.0),
                               category=p.control_category, action_url=p.action_url, tier=p.tier,
                               deprecated=bool(p.deprecated), user_impact=p.user_impact,
                               implementation_cost=p.implementation_cost) for p in items]

    # ---- Audit Log Query API: create, poll, read ---------------------------------------------
    async def create_audit_query(self, *, display_name: str, start: datetime, end: datetime,
                                 user_principal_names: list[str] | None = None,
                                 operations: list[str] | None = None) -> AuditQuery:
        body = AuditLogQuery(odata_type="#microsoft.graph.security.auditLogQuery", display_name=display_name,
                             filter_start_date_time=start, filter_end_date_time=end,
                             user_principal_name_filters=user_principal_names or None,
                             operation_filters=operations or None)
        q = await self._graph_call("POST /security/auditLog/queries", AUDIT,
                                   self.graph.security.audit_log.queries.post(body, config()))
        return AuditQuery(id=(q.id if q else None) or "", status=enum_text(q.status if q else None) or "notStarted")

    async def get_audit_query(self, *, query_id: str) -> AuditQuery:
        q = await self._graph_call("GET /security/auditLog/queries/{id}", AUDIT,
                                   self.graph.security.audit_log.queries.by_audit_log_query_id(query_id).get(config()))
        return AuditQuery(id=query_id, status=enum_text(q.status if q else None) or "notStarted")

    async def list_audit_records(self, *, query_id: str, limit: int = 1000) -> list[AuditRecord]:
        builder = self.graph.security.audit_log.queries.by_audit_log_query_id(query_id).records
        items = await self._graph_pages("GET /security/auditLog/queries/{id}/records", AUDIT, builder.get(config()),
                                        lambda link: builder.with_url(link).get(config()), limit=limit)
        out = []
        for r in items:
            data: dict[str, Any] = to_json(r.audit_data) if r.audit_data is not None else {}
            out.append(AuditRecord(id=r.id or "", created=r.created_date_time, operation=r.operation,
                                   user_principal_name=r.user_principal_name, object_id=r.object_id,
                                   client_ip=r.client_ip, audit_data=data))
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
