"""Plain, frozen records read from the store, and the state enums they carry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import RowMapping


class IncidentStatus(StrEnum):
    OPEN = "open"
    CONTAINED = "contained"
    CLOSED = "closed"


class IncidentSource(StrEnum):
    COMMAND = "command"
    ALERT = "alert"


class RequestState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    PARTIAL = "partial"  # some flagged objects addressed, others remain (services.vocabulary.ActionStatus)
    REFUSED = "refused"
    EXPIRED = "expired"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self not in PENDING_STATES


PENDING_STATES = frozenset({RequestState.AWAITING_APPROVAL, RequestState.APPROVED, RequestState.RUNNING})


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    target_user_id: str
    target_upn: str
    target_display_name: str
    target_is_admin: bool
    status: IncidentStatus
    source: IncidentSource
    opened_by_id: str
    opened_by_name: str
    opened_at: datetime
    updated_at: datetime
    contained_at: datetime | None
    closed_at: datetime | None
    closed_by_id: str | None
    closed_by_name: str | None
    close_reason: str | None
    investigation: dict[str, Any] | None
    conversation_ref: dict[str, Any] | None
    conversation_id: str | None
    card_activity_id: str | None
    cutoff: datetime | None
    correlation_id: str | None

    @property
    def is_closed(self) -> bool:
        return self.status is IncidentStatus.CLOSED

    @classmethod
    def from_row(cls, row: RowMapping) -> Incident:
        data = dict(row)
        data["status"] = IncidentStatus(data["status"])
        data["source"] = IncidentSource(data["source"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class ActionRequest:
    id: str
    incident_id: str
    batch_id: str
    action: str  # a services.vocabulary.ActionId value
    impact: str  # services.vocabulary.Impact value
    state: RequestState
    requested_by_id: str
    requested_by_name: str
    reason: str
    requested_at: datetime
    expires_at: datetime | None
    remind_at: datetime | None
    reminded_at: datetime | None
    decided_by_id: str | None
    decided_by_name: str | None
    decided_at: datetime | None
    override: bool
    lease_owner: str | None
    lease_expires_at: datetime | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None
    undo_of: str | None
    correlation_id: str | None

    @property
    def resumed(self) -> bool:
        """True when an earlier worker held this request and lost its lease: read before writing."""
        return self.attempts > 1

    @classmethod
    def from_row(cls, row: RowMapping) -> ActionRequest:
        data = dict(row)
        data["state"] = RequestState(data["state"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Snapshot:
    id: int
    action_request_id: str
    action: str
    taken_at: datetime
    data: dict[str, Any]

    @classmethod
    def from_row(cls, row: RowMapping) -> Snapshot:
        return cls(**dict(row))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    actor_id: str
    actor_name: str
    event: str
    target: str
    outcome: str
    correlation_id: str | None
    incident_id: str | None
    request_ids: tuple[str, ...]
    detail: str
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: RowMapping) -> AuditEntry:
        data = dict(row)
        data["request_ids"] = tuple(data["request_ids"] or ())
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        from services.store.audit import format_at

        return {
            "seq": self.seq, "at": format_at(self.at), "actor_id": self.actor_id, "actor_name": self.actor_name,
            "event": self.event, "target": self.target, "outcome": self.outcome,
            "correlation_id": self.correlation_id, "incident_id": self.incident_id,
            "request_ids": list(self.request_ids), "detail": self.detail,
            "prev_hash": self.prev_hash, "hash": self.hash,
        }
