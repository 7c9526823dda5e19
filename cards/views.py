"""Plain data the cards render that is not already in services.vocabulary.

Dialogs build these from the store and the services' results; cards never load anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.vocabulary import ActionId, Actor, Impact


class LineState(StrEnum):
    """Where one action of a run stands; the last four mirror ActionStatus."""

    QUEUED = "queued"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    REFUSED = "refused"


FINAL_STATES = frozenset({LineState.SUCCEEDED, LineState.FAILED, LineState.SKIPPED, LineState.REFUSED})


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
