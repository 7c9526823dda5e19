"""Incidents: one per compromised account while it is open (open → contained → closed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.findings.containment import accepted_keys, assess_containment, finding_key, latest_outcomes
from services.store import audit
from services.store.db import Connection, Store, new_id, utcnow
from services.store.records import PENDING_STATES, Incident, IncidentSource, IncidentStatus, RequestState
from services.store.schema import action_requests, incidents
from services.store.scrub import plain_text, scrub, scrub_text
from services.vocabulary import Actor, UserRef


@dataclass(frozen=True, slots=True)
class OpenedIncident:
    incident: Incident
    created: bool  # False: the account already had an incident that is not closed; this is it


async def open_incident(
    store: Store,
    *,
    target: UserRef,
    source: IncidentSource | str,
    opened_by: Actor,
    investigation: dict[str, Any] | None = None,
    target_is_admin: bool = False,
    cutoff: datetime | None = None,
    correlation_id: str | None = None,
    now: datetime | None = None,
) -> OpenedIncident:
    """Open an incident for `target`, or return the one already open for that account."""
    now = now or utcnow()
    existing = await find_open(store, target_user_id=target.id)
    if existing is not None:
        return OpenedIncident(existing, created=False)
    incident_id = new_id("inc")
    try:
        async with store.write() as conn:
            await conn.execute(incidents.insert().values(
                id=incident_id, target_user_id=target.id, target_upn=target.user_principal_name,
                target_display_name=target.display_name, target_is_admin=target_is_admin,
                status=IncidentStatus.OPEN.value, source=IncidentSource(source).value,
                opened_by_id=opened_by.id, opened_by_name=opened_by.name, opened_at=now, updated_at=now,
                investigation=scrub(investigation) if investigation is not None else None,
                cutoff=cutoff, correlation_id=correlation_id,
            ))
            await audit.append(conn, actor=opened_by, event="incident.opened", target=target.user_principal_name,
                               outcome="open", incident_id=incident_id, correlation_id=correlation_id, at=now,
                               detail=f"Incident {incident_id} opened for {target.display_name} from a {source}.")
    except IntegrityError:
        # Another instance opened one between our read and our insert: the unique index decided.
        existing = await find_open(store, target_user_id=target.id)
        if existing is None:
            raise
        return OpenedIncident(existing, created=False)
    incident = await get(store, incident_id=incident_id)
    assert incident is not None
    return OpenedIncident(incident, created=True)


async def get(store: Store, *, incident_id: str) -> Incident | None:
    async with store.read() as conn:
        row = (await conn.execute(sa.select(incidents).where(incidents.c.id == incident_id))).mappings().first()
    return Incident.from_row(row) if row else None


async def find_open(store: Store, *, target_user_id: str) -> Incident | None:
    """The incident for this account that is not closed, if any."""
    query = sa.select(incidents).where(incidents.c.target_user_id == target_user_id,
                                       incidents.c.status != IncidentStatus.CLOSED.value)
    async with store.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    return Incident.from_row(row) if row else None


async def list_incidents(store: Store, *, status: IncidentStatus | None = None, limit: int = 100) -> list[Incident]:
    query = sa.select(incidents).order_by(incidents.c.opened_at.desc()).limit(limit)
    if status is not None:
        query = query.where(incidents.c.status == status.value)
    async with store.read() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [Incident.from_row(r) for r in rows]


async def lock(conn: Connection, incident_id: str) -> Incident | None:
    """Re-read the incident inside the write transaction; on PostgreSQL lock it so two confirms of the
    same incident (a double click on two instances) run one after the other."""
    query = sa.select(incidents).where(incidents.c.id == incident_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    return Incident.from_row(row) if row else None


async def target_upn_in(conn: Connection, incident_id: str) -> str:
    """The UPN an incident is about, inside a transaction ("" when there is no such incident)."""
    return (await conn.execute(sa.select(incidents.c.target_upn).where(incidents.c.id == incident_id))).scalar() or ""


async def by_card(store: Store, *, card_activity_id: str, conversation_id: str) -> Incident | None:
    """The incident whose card is the activity `card_activity_id` in `conversation_id` (the latest, if a
    card was reused), found through its index however many incidents there are."""
    query = (sa.select(incidents)
             .where(incidents.c.card_activity_id == card_activity_id, incidents.c.conversation_id == conversation_id)
             .order_by(incidents.c.opened_at.desc()).limit(1))
    async with store.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    return Incident.from_row(row) if row is not None else None


async def set_card(
    store: Store,
    *,
    incident_id: str,
    conversation_ref: dict[str, Any] | None = None,
    conversation_id: str | None = None,
    card_activity_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Remember where the incident card was posted, so it can be updated in place and replied to."""
    values: dict[str, Any] = {"updated_at": now or utcnow()}
    if conversation_ref is not None:
        values["conversation_ref"] = conversation_ref
    if conversation_id is not None:
        values["conversation_id"] = conversation_id
    if card_activity_id is not None:
        values["card_activity_id"] = card_activity_id
    async with store.write() as conn:
        result = await conn.execute(incidents.update().where(incidents.c.id == incident_id).values(**values))
    return result.rowcount == 1


async def set_investigation(
    store: Store,
    *,
    incident_id: str,
    investigation: dict[str, Any],
    target_is_admin: bool | None = None,
    cutoff: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    values: dict[str, Any] = {"updated_at": now or utcnow()}
    if target_is_admin is not None:
        values["target_is_admin"] = target_is_admin
    if cutoff is not None:
        values["cutoff"] = cutoff
    async with store.write() as conn:
        # A responder's acceptance of a finding still flagged by the new investigation carries over.
        before = (await conn.execute(sa.select(incidents.c.investigation)
                                     .where(incidents.c.id == incident_id))).scalar()
        kept = {k: v for k, v in ((before or {}).get("accepted") or {}).items()
                if k in {finding_key(f) for f in investigation.get("findings") or ()}}
        values["investigation"] = scrub({**investigation, "accepted": kept} if kept else investigation)
        result = await conn.execute(incidents.update().where(incidents.c.id == incident_id).values(**values))
    return result.rowcount == 1


async def close(
    store: Store,
    *,
    incident_id: str,
    actor: Actor,
    reason: str,
    correlation_id: str | None = None,
    now: datetime | None = None,
) -> Incident | None:
    """Close an incident; requests still pending are cancelled, since a closed incident takes no actions.
    Returns None if there is no such incident or it was already closed."""
    now = now or utcnow()
    reason = scrub_text(plain_text(reason))[:500]
    async with store.write() as conn:
        result = await conn.execute(
            incidents.update()
            .where(incidents.c.id == incident_id, incidents.c.status != IncidentStatus.CLOSED.value)
            .values(status=IncidentStatus.CLOSED.value, closed_at=now, closed_by_id=actor.id,
                    closed_by_name=actor.name, close_reason=reason, updated_at=now)
        )
        if result.rowcount != 1:
            return None
        # Running requests are left alone: their worker finishes and records what really happened.
        await conn.execute(
            action_requests.update()
            .where(action_requests.c.incident_id == incident_id,
                   action_requests.c.state.in_([RequestState.AWAITING_APPROVAL.value, RequestState.APPROVED.value]))
            .values(state=RequestState.CANCELLED.value, finished_at=now, decided_by_id=actor.id,
                    decided_by_name=actor.name, decided_at=now)
        )
        target = (await conn.execute(sa.select(incidents.c.target_upn).where(incidents.c.id == incident_id))).scalar()
        await audit.append(conn, actor=actor, event="incident.closed", target=target or "", outcome="closed",
                           incident_id=incident_id, correlation_id=correlation_id, at=now,
                           detail=f"Incident {incident_id} closed: {reason}")
    return await get(store, incident_id=incident_id)


async def mark_contained_if_done(conn: Any, *, incident_id: str, now: datetime) -> bool:
    """Inside a write transaction: move an open incident to contained once every request is final and every
    finding is addressed or accepted (services.findings.containment); with no stored investigation, once
    every request is final and none failed. Returns True if this call made the change. When every request
    is final but findings remain open, it audits "partly contained: N findings open" instead.

    The incident row is locked first (PostgreSQL) so two workers finishing the last two requests at once
    run this one after the other, and the second sees the first's result. Its own audit row comes last:
    the audit lock is always taken last, which keeps lock order acyclic."""
    lock = sa.select(incidents.c.id).where(incidents.c.id == incident_id)
    if conn.dialect.name == "postgresql":
        await conn.execute(lock.with_for_update())
    row = (await conn.execute(
        sa.select(incidents.c.status, incidents.c.investigation, incidents.c.target_upn)
        .where(incidents.c.id == incident_id))).first()
    if row is None or row.status != IncidentStatus.OPEN.value:
        return False
    reqs = (await conn.execute(
        sa.select(action_requests.c.action, action_requests.c.state, action_requests.c.result,
                  action_requests.c.finished_at, action_requests.c.requested_at, action_requests.c.undo_of)
        .where(action_requests.c.incident_id == incident_id))).all()
    states = {r.state for r in reqs}
    investigation = row.investigation
    accepted = accepted_keys(investigation)
    if (not reqs and not accepted) or states & {s.value for s in PENDING_STATES}:
        return False
    outcomes = latest_outcomes(reqs)
    if any(o["status"] in (RequestState.FAILED.value, RequestState.PARTIAL.value) for o in outcomes.values()):
        return False
    if investigation is not None:
        state = assess_containment(investigation, outcomes, accepted)
        if not state.contained:
            titles = "; ".join(f.title for f in state.open[:5]) + ("; …" if len(state.open) > 5 else "")
            await audit.append(conn, actor=audit.SYSTEM_ACTOR, event="incident.partly_contained",
                               target=row.target_upn, outcome="partly_contained", incident_id=incident_id, at=now,
                               detail=f"{state.sentence} Open: {titles}")
            return False
    result = await conn.execute(
        incidents.update()
        .where(incidents.c.id == incident_id, incidents.c.status == IncidentStatus.OPEN.value)
        .values(status=IncidentStatus.CONTAINED.value, contained_at=now, updated_at=now)
    )
    return bool(result.rowcount == 1)


@dataclass(frozen=True, slots=True)
class Accepted:
    ok: bool
    sentence: str
    incident: Incident | None = None
    contained: bool = False


ACCEPT_REASON_MAX = 500


async def accept_finding(store: Store, *, incident_id: str, finding: str, actor: Actor, reason: str,
                         correlation_id: str | None = None, now: datetime | None = None) -> Accepted:
    """A responder accepts an open finding without acting on it, with a reason (audited). The incident
    becomes contained when this was the last open finding and nothing is pending. Refused, with one
    sentence, for an unknown or already addressed finding, a closed incident, a missing reason, or a
    responder accepting a finding about their own account."""
    now = now or utcnow()
    reason = scrub_text(plain_text(reason or "")).strip()[:ACCEPT_REASON_MAX]
    if not reason:
        return Accepted(False, "Give a reason for accepting the finding (up to 500 characters).")
    async with store.write() as conn:
        lock = sa.select(incidents).where(incidents.c.id == incident_id)
        if conn.dialect.name == "postgresql":
            lock = lock.with_for_update()
        row = (await conn.execute(lock)).mappings().first()
        if row is None:
            return Accepted(False, "That incident does not exist.")
        incident = Incident.from_row(row)
        if incident.is_closed:
            return Accepted(False, f"Incident {incident_id} is closed; it takes no further decisions.", incident)
        if actor.id == incident.target_user_id:
            return Accepted(False, "Nobody accepts a finding about their own account; ask another responder.",
                            incident)
        reqs = (await conn.execute(
            sa.select(action_requests.c.action, action_requests.c.state, action_requests.c.result,
                      action_requests.c.finished_at, action_requests.c.requested_at, action_requests.c.undo_of)
            .where(action_requests.c.incident_id == incident_id))).all()
        investigation = dict(incident.investigation or {})
        state = assess_containment(investigation, latest_outcomes(reqs), accepted_keys(investigation))
        chosen = next((f for f in state.open if f.key == finding), None)
        if chosen is None:
            return Accepted(False, "That finding is not open on this incident (addressed, accepted or unknown).",
                            incident)
        accepted = dict(investigation.get("accepted") or {})
        accepted[finding] = {"kind": chosen.kind, "title": chosen.title, "byId": actor.id, "byName": actor.name,
                             "reason": reason, "at": now.isoformat()}
        investigation["accepted"] = accepted
        await conn.execute(incidents.update().where(incidents.c.id == incident_id)
                           .values(investigation=scrub(investigation), updated_at=now))
        contained = await mark_contained_if_done(conn, incident_id=incident_id, now=now)
        await audit.append(conn, actor=actor, event="finding.accepted", target=incident.target_upn,
                           outcome="accepted", incident_id=incident_id, correlation_id=correlation_id, at=now,
                           detail=f"{actor.name} accepted \"{chosen.title}\" ({chosen.kind}) without action: {reason}")
        if contained:
            await audit.append(conn, actor=audit.SYSTEM_ACTOR, event="incident.contained",
                               target=incident.target_upn, outcome="contained", incident_id=incident_id, at=now,
                               detail=f"Every finding of incident {incident_id} is addressed or accepted.")
    return Accepted(True, f"Accepted: {chosen.title}.", await get(store, incident_id=incident_id), contained)
