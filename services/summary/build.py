"""The closing summary of an incident, as plain frozen data the bot and the CLI render.

    summary = await build_summary(tenant=..., store=..., incident=...)

It holds the actions with their outcomes and actors (from the store), the mailbox audit state
(organisation AuditDisabled, the mailbox's AuditEnabled, the audit bypass), the account's audit
events of the last 7 days (services.summary.audit: slow, bounded wait) and Secure Score
(services.summary.score). Everything is read at once; a read that fails becomes a gap sentence.
`to_view` maps it onto the card views in cards/views.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.store import requests as request_repo
from services.store.db import Store
from services.store.records import ActionRequest, Incident
from services.summary.audit import AuditEvents, gather_audit_events
from services.summary.score import ScoreControl, SecureScoreSummary, summarise
from services.tenant.errors import TenantError
from services.vocabulary import ActionId, Actor, Impact

__all__ = ["ActionOutcome", "AuditEvents", "MailboxAuditState", "ScoreControl", "SecureScoreSummary", "Summary",
           "build_summary", "secure_score", "to_view"]

SCORE_HISTORY = 31  # today and 30 days back


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    action: ActionId
    state: str  # the request state: succeeded, failed, skipped, refused, awaiting_approval, expired, ...
    verified: bool
    detail: str
    impact: str
    requested_by: Actor
    approved_by: Actor | None
    at: datetime | None
    request_id: str


@dataclass(frozen=True, slots=True)
class MailboxAuditState:
    org_audit_disabled: bool | None  # None: not read
    mailbox_audit_enabled: bool | None
    bypass: bool | None

    @property
    def recording(self) -> bool:
        """Is what happens in this mailbox being recorded?"""
        return self.org_audit_disabled is False and self.mailbox_audit_enabled is True and self.bypass is not True


@dataclass(frozen=True, slots=True)
class Summary:
    incident_id: str
    target_upn: str
    actions: tuple[ActionOutcome, ...] = ()
    mailbox_audit: MailboxAuditState | None = None
    audit_events: AuditEvents | None = None
    secure_score: SecureScoreSummary | None = None
    gaps: tuple[str, ...] = ()


def outcome_of(req: ActionRequest) -> ActionOutcome:
    result = req.result or {}
    approver = None
    if req.decided_by_id and req.decided_by_name and req.decided_by_id != req.requested_by_id:
        approver = Actor(req.decided_by_id, req.decided_by_name)
    return ActionOutcome(action=ActionId(req.action), state=req.state.value, verified=bool(result.get("verified")),
                         detail=str(result.get("detail") or ""), impact=req.impact,
                         requested_by=Actor(req.requested_by_id, req.requested_by_name), approved_by=approver,
                         at=req.finished_at or req.started_at or req.requested_at, request_id=req.id)


async def secure_score(*, tenant: Any) -> SecureScoreSummary | None:
    """Secure Score now, its 7- and 30-day change, peer averages and the controls that matter."""
    history, profiles = await asyncio.gather(tenant.list_secure_scores(top=SCORE_HISTORY),
                                             tenant.list_control_profiles())
    return summarise(history, profiles)


async def mailbox_audit(*, tenant: Any, mailbox: str) -> MailboxAuditState:
    org, mb, bypass = await asyncio.gather(tenant.get_organization_config(), tenant.get_mailbox(mailbox=mailbox),
                                           tenant.get_audit_bypass(mailbox=mailbox))
    return MailboxAuditState(org_audit_disabled=org.audit_disabled if org else None,
                             mailbox_audit_enabled=mb.audit_enabled if mb else None,
                             bypass=bypass.bypass_enabled if bypass else None)


def _gap(what: str, exc: BaseException) -> str:
    return f"Could not read {what}: {exc.sentence}" if isinstance(exc, TenantError) else \
        f"Could not read {what} ({type(exc).__name__})."


async def build_summary(*, tenant: Any, store: Store, incident: Incident, audit_wait_s: float = 20.0,
                        audit_query_id: str | None = None, now: datetime | None = None) -> Summary:
    """Everything the thread's closing summary shows, read concurrently."""
    now = now or datetime.now(UTC)
    reqs, audit_state, events, score = await asyncio.gather(
        request_repo.for_incident(store, incident_id=incident.id),
        mailbox_audit(tenant=tenant, mailbox=incident.target_upn),
        gather_audit_events(tenant=tenant, user_principal_name=incident.target_upn, now=now, wait_s=audit_wait_s,
                            query_id=audit_query_id),
        secure_score(tenant=tenant),
        return_exceptions=True)
    gaps: list[str] = []
    if isinstance(reqs, BaseException):
        raise reqs  # the store is ours: a failure there is a bug, not a gap
    audit_view: MailboxAuditState | None = None
    if isinstance(audit_state, BaseException):
        gaps.append(_gap("the mailbox audit settings", audit_state))
    else:
        audit_view = audit_state
    events_view: AuditEvents | None = None
    if isinstance(events, BaseException):
        gaps.append(_gap("the audit events", events))
    else:
        events_view = events
    score_view: SecureScoreSummary | None = None
    if isinstance(score, BaseException):
        gaps.append(_gap("Secure Score", score))
    else:
        score_view = score
    return Summary(incident_id=incident.id, target_upn=incident.target_upn,
                   actions=tuple(outcome_of(r) for r in reqs), mailbox_audit=audit_view, audit_events=events_view,
                   secure_score=score_view, gaps=tuple(gaps))


def to_view(summary: Summary) -> Any:
    """The card views (cards.views.SummaryData) for this summary. Imported lazily: services do not
    depend on cards; this mapping is here only so the bot does not have to know both shapes."""
    from cards import views

    lines = []
    for a in summary.actions:
        state = "queued" if a.state == "approved" else a.state
        lines.append(views.ActionLine(action=a.action, state=views.LineState(state), impact=Impact(a.impact),
                                      verified=a.verified, detail=a.detail, requested_by=a.requested_by,
                                      approved_by=a.approved_by, at=a.at, request_id=a.request_id))
    audit = None
    if summary.mailbox_audit is not None:
        m = summary.mailbox_audit
        audit = views.MailboxAuditView(org_enabled=None if m.org_audit_disabled is None else not m.org_audit_disabled,
                                       mailbox_enabled=m.mailbox_audit_enabled, bypass=m.bypass)
    events = None
    if summary.audit_events is not None:
        e = summary.audit_events
        notable = tuple(views.AuditEvent(at=x.at, operation=x.operation, detail=x.detail)
                        for x in (*e.inbox_rule_changes, *e.forwarding_changes))
        counts = list(e.counts)
        if e.mail_items_accessed:
            counts = [(op, n) for op, n in counts if op != "MailItemsAccessed"]
            counts.insert(0, ("MailItemsAccessed (items)", e.mail_items_accessed))
        events = views.AuditEventsView(days=e.days, counts=tuple(counts), notable=notable,
                                       note=e.note)
    score = None
    if summary.secure_score is not None:
        s = summary.secure_score
        score = views.SecureScoreView(current=s.current, max=s.max, change_7d=s.change_7d, change_30d=s.change_30d,
                                      peers=s.peers, controls=tuple(views.ScoreControl(
                                          title=c.title, points_available=c.points_available, status=c.status)
                                          for c in s.controls))
    return views.SummaryData(incident_id=summary.incident_id, lines=tuple(lines), mailbox_audit=audit,
                             audit_events=events, secure_score=score, gaps=summary.gaps)
