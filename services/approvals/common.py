"""The vocabulary of approval decisions: outcomes, the responder check and its cache, and the small
rules every decision shares (who is a responder, whose account it is, what a valid reason is)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.ports import ResponderCheck
from services.store import audit
from services.store.db import Connection, Store
from services.store.records import ActionRequest, Incident
from services.store.scrub import plain_text
from services.vocabulary import Actor

REASON_MAX = 500


class OutcomeCode(StrEnum):
    CONFIRMED = "confirmed"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    NOT_RESPONDER = "not_responder"
    OWN_ACCOUNT = "own_account"
    SELF_APPROVAL = "self_approval"
    BAD_REASON = "bad_reason"
    UNKNOWN_ACTION = "unknown_action"
    NOT_FOUND = "not_found"
    INCIDENT_CLOSED = "incident_closed"
    ALREADY_PENDING = "already_pending"
    ALREADY_DECIDED = "already_decided"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    code: OutcomeCode
    message: str
    incident_id: str | None = None
    requests: tuple[ActionRequest, ...] = ()
    audited: bool = True  # False only inside services.approvals, until `audited_refusal` writes its row


__all__ = ["ResponderCheck"]  # the port lives in services.ports


class ResponderCache:
    """Wraps a ResponderCheck and remembers answers briefly, so a burst of clicks costs one Graph call.
    Refusals are remembered for less time, so someone just added to the group is not kept waiting."""

    def __init__(self, check: Callable[[str], Awaitable[bool]], *, ttl_s: float = 60.0, negative_ttl_s: float = 10.0,
                 max_entries: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self._check = check
        self._ttl, self._negative_ttl = ttl_s, negative_ttl_s
        self._max = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[bool, float]] = {}

    async def __call__(self, user_id: str, /) -> bool:
        key = user_id.strip().lower()
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        answer = bool(await self._check(user_id))
        if len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))  # oldest insertion first
        self._entries[key] = (answer, now + (self._ttl if answer else self._negative_ttl))
        return answer

    def forget(self, user_id: str | None = None) -> None:
        if user_id is None:
            self._entries.clear()
        else:
            self._entries.pop(user_id.strip().lower(), None)


def same_account(a: str | None, b: str | None) -> bool:
    """AAD object ids are GUIDs; compare them without regard to case or surrounding space."""
    return bool(a and b and a.strip().lower() == b.strip().lower())


def clean_reason(raw: str | None) -> str | None:
    """The reason with control and format characters removed and spaces collapsed; None if it is empty
    or longer than REASON_MAX."""
    if raw is None:
        return None
    reason = plain_text(raw)
    return reason if 0 < len(reason) <= REASON_MAX else None


async def refuse_closed_in(conn: Connection, *, incident: Incident, actor: Actor, correlation_id: str | None,
                           now: datetime) -> Outcome:
    """Inside a write transaction: audit and answer the refusal of any request on a closed incident."""
    message = f"Incident {incident.id} is closed; it takes no more actions."
    await audit.append(conn, actor=actor, event="request.refused", target=incident.target_upn, outcome="refused",
                       incident_id=incident.id, correlation_id=correlation_id, detail=message, at=now)
    return Outcome(False, OutcomeCode.INCIDENT_CLOSED, message, incident.id)


async def refuse_access(store: Store, *, actor: Actor, attempted: str, incident_id: str | None,
                        correlation_id: str | None, target: str = "") -> Outcome:
    await audit.record(store, actor=actor, event="access.refused", target=target, outcome="refused",
                       incident_id=incident_id, correlation_id=correlation_id,
                       detail=f"{actor.name} is not a responder and tried to {attempted}.")
    return Outcome(False, OutcomeCode.NOT_RESPONDER,
                   "Only members of the responders group can act on incidents; this attempt was recorded.", incident_id)


async def audited_refusal(store: Store, outcome: Outcome, *, actor: Actor, correlation_id: str | None) -> Outcome:
    """Every refusal leaves services.approvals with its audit row: write it for one that has none yet."""
    if outcome.ok or outcome.audited:
        return outcome
    from services.store import incidents as incident_repo

    incident = await incident_repo.get(store, incident_id=outcome.incident_id) if outcome.incident_id else None
    await audit.record(store, actor=actor, event="request.refused", target=incident.target_upn if incident else "",
                       outcome="refused", incident_id=incident.id if incident else None,
                       correlation_id=correlation_id, detail=outcome.message)
    return dataclasses.replace(outcome, audited=True)


async def refuse_request(store: Store, *, actor: Actor, code: OutcomeCode, message: str, incident_id: str | None,
                         correlation_id: str | None, target: str = "") -> Outcome:
    await audit.record(store, actor=actor, event="request.refused", target=target, outcome="refused",
                       incident_id=incident_id, correlation_id=correlation_id, detail=message)
    return Outcome(False, code, message, incident_id)
