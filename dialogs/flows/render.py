"""The incident's card as it stands now, rebuilt from the store (never from a card payload).

One rule, used by status, refresh, refusals and the worker alike:
  closed → the incident card marked closed; nothing requested yet → the incident card with its
  findings; anything approved or running → the running card (progress as each action lands), with
  the approval section and its buttons when a batch also awaits a second responder (so whoever opens
  the card early can approve at once); else a batch awaiting a second responder → the approval card;
  the latest batch ended without running anything → expired or rejected; else the done card.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cards import (
    CardContext,
    awaiting_approval_card,
    done_card,
    expired_card,
    incident_card,
    rejected_card,
    running_card,
    views,
)
from cards.approval import AwaitingApproval
from cards.text import plain
from cards.views import AlertView, containment_view, line_from_request
from services.findings.containment import containment_of
from services.store import alerts as alert_store
from services.store import requests as request_repo
from services.store.db import Store
from services.store.records import ActionRequest, Incident, RequestState
from services.summary.build import Summary
from services.vocabulary import (
    ActionId,
    Actor,
    Finding,
    FindingKind,
    Impact,
    Investigation,
    Severity,
    UserRef,
)

_NOT_RUN = {RequestState.EXPIRED, RequestState.REJECTED, RequestState.CANCELLED}
_RUNNABLE = {RequestState.APPROVED, RequestState.RUNNING}
SOURCE_NAMES = {"identity_protection": "Identity Protection", "defender": "Defender"}


def source_name(source: str) -> str:
    return SOURCE_NAMES.get(source, source)


async def alert_views(store: Store, *, incident_id: str) -> list[AlertView]:
    """The incident's alert history as the incident card lists it, oldest first."""
    return [AlertView(source=source_name(a.source), severity=a.severity, title=a.title, at=a.received_at)
            for a in await alert_store.for_incident(store, incident_id=incident_id)]


def target_of(incident: Incident) -> UserRef:
    return UserRef(id=incident.target_user_id, user_principal_name=incident.target_upn,
                   display_name=incident.target_display_name)


def investigation_of(incident: Incident) -> Investigation:
    """The stored investigation (Investigation.to_json) back as data for the card."""
    raw: dict[str, Any] = incident.investigation or {}
    user_raw = raw.get("user") or {}
    user = UserRef(id=incident.target_user_id,
                   user_principal_name=str(user_raw.get("userPrincipalName") or incident.target_upn),
                   display_name=str(user_raw.get("displayName") or incident.target_display_name),
                   account_enabled=bool(user_raw.get("accountEnabled", True)), mail=user_raw.get("mail"))
    findings = []
    for f in raw.get("findings") or ():
        try:
            findings.append(Finding(kind=FindingKind(f["kind"]), severity=Severity(f["severity"]),
                                    title=str(f.get("title", "")), evidence=tuple(map(str, f.get("evidence") or ())),
                                    actions=tuple(ActionId(a) for a in f.get("actions") or ()),
                                    details=dict(f.get("details") or {}),
                                    targets=tuple(map(str, f.get("targets") or ()))))
        except (KeyError, ValueError, TypeError):
            continue  # a finding this version does not know is left off rather than failing the card
    recommended = tuple(ActionId(a) for a in raw.get("recommended_actions") or () if a in ActionId._value2member_map_)
    at = raw.get("investigatedAt")
    return Investigation(user=user, findings=tuple(findings), recommended_actions=recommended,
                         risk_level=raw.get("riskLevel"), risk_state=raw.get("riskState"),
                         is_admin=bool(raw.get("isAdmin", incident.target_is_admin)),
                         admin_unknown=bool(raw.get("adminUnknown", False)),
                         gaps=tuple(map(str, raw.get("gaps") or ())),
                         investigated_at=datetime.fromisoformat(at) if isinstance(at, str) else None,
                         notes=tuple(map(str, raw.get("notes") or ())),
                         cautions={str(k): str(v) for k, v in dict(raw.get("cautions") or {}).items()})


def _latest_batch(reqs: Sequence[ActionRequest]) -> list[ActionRequest]:
    latest = max(reqs, key=lambda r: (r.requested_at, r.id))
    return [r for r in reqs if r.batch_id == latest.batch_id]


def newest_waiting(incident: Incident, reqs: Sequence[ActionRequest]) -> AwaitingApproval | None:
    """The newest batch awaiting a second responder (its requests only), or None."""
    waiting = [r for r in reqs if r.state is RequestState.AWAITING_APPROVAL]
    if not waiting:
        return None
    newest = max(waiting, key=lambda r: (r.requested_at, r.id)).batch_id
    batch = [r for r in waiting if r.batch_id == newest]
    first = batch[0]
    assert first.expires_at is not None
    return AwaitingApproval(batch_id=first.batch_id, requested_by=Actor(first.requested_by_id, first.requested_by_name),
                            requested_at=first.requested_at, reason=first.reason,
                            actions=tuple(ActionId(r.action) for r in batch), expires_at=first.expires_at,
                            target_is_admin=incident.target_is_admin)


def awaiting_card(ctx: CardContext, incident: Incident, waiting: AwaitingApproval) -> dict[str, Any]:
    return awaiting_approval_card(
        ctx, batch_id=waiting.batch_id, incident_id=incident.id, target=target_of(incident),
        requested_by=waiting.requested_by, requested_at=waiting.requested_at, reason=waiting.reason,
        actions=waiting.actions, expires_at=waiting.expires_at, target_is_admin=waiting.target_is_admin)


def shows_incident_card(incident: Incident, reqs: Sequence[ActionRequest]) -> bool:
    """Whether `card_for` gives the incident card itself (the one that lists the alert history)."""
    return incident.is_closed or not reqs


def card_for(ctx: CardContext, incident: Incident, reqs: Sequence[ActionRequest],
             alerts: Sequence[AlertView] = ()) -> dict[str, Any]:
    """The card for `incident` given all its requests (and its alert history, which only the incident card
    lists)."""
    if shows_incident_card(incident, reqs):
        return incident_card(ctx, incident_id=incident.id, investigation=investigation_of(incident),
                             alerts=alerts, closed=incident.is_closed)
    target = target_of(incident)
    lines = [line_from_request(r) for r in reqs]
    waiting = newest_waiting(incident, reqs)
    # Progress first: while anything runs the card shows it landing, and below it the approval buttons.
    if any(r.state in _RUNNABLE for r in reqs):
        first = min(reqs, key=lambda r: r.requested_at)
        return running_card(ctx, incident_id=incident.id, target=target, lines=lines,
                            requested_by=Actor(first.requested_by_id, first.requested_by_name),
                            started_at=first.requested_at, awaiting=waiting)
    if waiting is not None:
        return awaiting_card(ctx, incident, waiting)
    batch = _latest_batch(reqs)
    if all(r.state in _NOT_RUN for r in batch):
        actions = [ActionId(r.action) for r in batch]
        decided = [r for r in batch if r.state is RequestState.REJECTED]
        if decided:
            r = decided[0]
            return rejected_card(ctx, incident_id=incident.id, target=target,
                                 rejected_by=Actor(r.decided_by_id or "", r.decided_by_name or ""),
                                 rejected_at=r.decided_at, actions=actions)
        return expired_card(ctx, incident_id=incident.id, target=target,
                            expired_at=batch[0].expires_at or batch[0].finished_at or ctx.now, actions=actions)
    finished = max((r.finished_at for r in reqs if r.finished_at), default=None)
    state = containment_of(incident.investigation, reqs) if incident.investigation else None
    return done_card(ctx, incident_id=incident.id, batch_id=batch[0].batch_id, target=target, lines=lines,
                     finished_at=finished, containment=containment_view(state) if state is not None else None)


async def current_card(ctx: CardContext, store: Store, incident: Incident) -> dict[str, Any]:
    reqs = await request_repo.for_incident(store, incident_id=incident.id)
    # The alert history is read only for the card that shows it: progress redraws stay one query.
    alerts = await alert_views(store, incident_id=incident.id) if shows_incident_card(incident, reqs) else []
    return card_for(ctx, incident, reqs, alerts)


def with_notice(card: dict[str, Any], sentence: str) -> dict[str, Any]:
    """The same card with one sentence on top: a refusal shows where things stand and why."""
    out = copy.deepcopy(card)
    notice = {"type": "TextBlock", "text": plain(sentence, 400), "wrap": True, "weight": "Bolder", "color": "Warning"}
    out["body"] = [notice, *out.get("body", [])]
    return out


def to_view(summary: Summary) -> views.SummaryData:
    """The card views (cards.views.SummaryData) for a containment summary (services.summary.build)."""
    lines = []
    for a in summary.actions:
        state = "queued" if a.state == "approved" else a.state
        lines.append(views.ActionLine(action=a.action, state=views.LineState(state), impact=Impact(a.impact),
                                      verified=a.verified, detail=a.detail, requested_by=a.requested_by,
                                      approved_by=a.approved_by, at=a.at, request_id=a.request_id))
    audit = None
    if summary.mailbox_audit is not None:
        m = summary.mailbox_audit
        unknown = m.org_audit_disabled is None or m.bypass is None
        audit = views.MailboxAuditView(org_enabled=None if m.org_audit_disabled is None else not m.org_audit_disabled,
                                       mailbox_enabled=None if unknown else m.recording, bypass=m.bypass)
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
                             audit_events=events, secure_score=score, gaps=summary.gaps,
                             containment=views.containment_view(summary.containment)
                             if summary.containment is not None else None)
