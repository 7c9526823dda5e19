"""Plain data the cards render that is not already in services.vocabulary.

Dialogs build these from the store and the services' results; cards never load anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.vocabulary import ActionId, Actor, Impact


class LineState(StrEnum):
    """Where one action of a run stands; succeeded to refused mirror ActionStatus."""

    QUEUED = "queued"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    PARTIAL = "partial"
    REFUSED = "refused"
    EXPIRED = "expired"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset(
    {
        LineState.SUCCEEDED,
        LineState.FAILED,
        LineState.SKIPPED,
        LineState.PARTIAL,
        LineState.REFUSED,
        LineState.EXPIRED,
        LineState.REJECTED,
        LineState.CANCELLED,
    }
)


@dataclass(frozen=True, slots=True)
class ActionLine:
    """One action in a run. ``request_id`` is the opaque id an undo button sends back."""

    action: ActionId
    state: LineState
    impact: Impact = Impact.STANDARD
    verified: bool = False
    detail: str = ""  # the service's sentence for failed/refused/skipped
    requested_by: Actor | None = None
    approved_by: Actor | None = None
    at: datetime | None = None
    request_id: str | None = None


def line_from_request(req: Any) -> ActionLine:
    """An ActionLine from a stored action request (services.store.records.ActionRequest), read by
    attribute so cards need not import the store."""
    state = "queued" if req.state == "approved" else str(req.state)
    result = req.result or {}
    decided = None
    # A standard action has no second decision; a decider equal to the requester is not an approver.
    if req.decided_by_id and req.decided_by_name and req.decided_by_id != req.requested_by_id:
        decided = Actor(req.decided_by_id, req.decided_by_name)
    return ActionLine(
        action=ActionId(req.action),
        state=LineState(state),
        impact=Impact(req.impact),
        verified=bool(result.get("verified", False)),
        detail=str(result.get("detail", "") or ""),
        requested_by=Actor(req.requested_by_id, req.requested_by_name),
        approved_by=decided if state not in {"rejected", "cancelled"} else None,
        at=req.finished_at or req.started_at or req.requested_at,
        request_id=req.id,
    )


@dataclass(frozen=True, slots=True)
class AlertView:
    source: str  # "Identity Protection", "Defender", "webhook"
    severity: str
    title: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MailboxAuditView:
    org_enabled: bool | None  # None: the read failed
    mailbox_enabled: bool | None
    bypass: bool | None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime | None
    operation: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AuditEventsView:
    """The account's audit events over ``days``; ``note`` explains a pending or failed query."""

    days: int = 7
    counts: tuple[tuple[str, int], ...] = ()  # (operation, count)
    notable: tuple[AuditEvent, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class ScoreControl:
    title: str
    points_available: float  # points still to gain
    status: str = ""  # implementation status as Graph words it


@dataclass(frozen=True, slots=True)
class SecureScoreView:
    current: float
    max: float
    change_7d: float | None = None
    change_30d: float | None = None
    peers: tuple[tuple[str, float], ...] = ()  # (basis, average score) as Graph returns them
    controls: tuple[ScoreControl, ...] = ()

    @property
    def percent(self) -> float:
        return 0.0 if self.max <= 0 else max(0.0, min(100.0, 100.0 * self.current / self.max))


@dataclass(frozen=True, slots=True)
class SummaryData:
    """What the thread's closing summary shows."""

    incident_id: str
    lines: tuple[ActionLine, ...] = ()
    mailbox_audit: MailboxAuditView | None = None
    audit_events: AuditEventsView | None = None
    secure_score: SecureScoreView | None = None
    gaps: tuple[str, ...] = ()
