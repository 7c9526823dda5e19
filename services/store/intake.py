"""The store side of alert intake (services.alerts.intake), in as few write transactions as the outcome allows.

services.store.alerts has `record` and `link` as separate transactions; under a burst of webhook
deliveries on SQLite every extra write transaction is another fsync and another turn at the single
write lock, so intake writes the alert row, routes it to an open incident and appends the audit row in
one transaction. The uniqueness rules are the store's: (source, alert id) once, one open incident
per account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.store import audit
from services.store.db import Store
from services.store.records import Incident, IncidentStatus
from services.store.schema import alerts, incidents
from services.vocabulary import Actor, UserRef


@dataclass(frozen=True, slots=True)
class Recorded:
    inserted: bool  # False: this (source, alert id) was already recorded
    incident: Incident | None  # the open incident the alert was attached to, if the account had one


@dataclass(frozen=True, slots=True)
class AlertRow:
    source: str
    alert_id: str
    account: str
    severity: str
    title: str


async def known(store: Store, *, source: str, alert_id: str) -> bool:
    """A cheap read so redeliveries skip the tenant lookup; the insert in `record` is what decides."""
    query = sa.select(alerts.c.id).where(alerts.c.source == source, alerts.c.alert_id == alert_id)
    async with store.read() as conn:
        return (await conn.execute(query)).first() is not None


async def record(store: Store, *, row: AlertRow, user: UserRef | None, actor: Actor, now: datetime) -> Recorded:
    """Insert the alert; if it is new and the account has an open incident, attach it there. The audit
    row says which happened (duplicate, unresolved, reply); a new incident is the caller's next step."""
    detail = f"{row.source} alert {row.alert_id} ({row.severity})"
    insert = store.insert(alerts).values(
        source=row.source, alert_id=row.alert_id, account=row.account[:320], severity=row.severity[:16],
        title=row.title[:500], received_at=now,
    ).on_conflict_do_nothing(index_elements=["source", "alert_id"])
    async with store.write() as conn:
        if (await conn.execute(insert)).rowcount != 1:
            await audit.append(conn, actor=actor, event="alert.duplicate", target=row.account[:320],
                               outcome="duplicate", detail=f"{detail} was already received; ignored.", at=now)
            return Recorded(False, None)
        if user is None:
            await audit.append(conn, actor=actor, event="alert.unresolved", target=row.account[:320],
                               outcome="unresolved", detail=f"{detail} names no single account in the tenant.",
                               at=now)
            return Recorded(True, None)
        found = (await conn.execute(sa.select(incidents).where(
            incidents.c.target_user_id == user.id, incidents.c.status != IncidentStatus.CLOSED.value))
        ).mappings().first()
        if found is None:
            return Recorded(True, None)
        incident = Incident.from_row(found)
        await _attach(conn, row=row, incident_id=incident.id)
        await audit.append(conn, actor=actor, event="alert.received", target=user.user_principal_name,
                           outcome="reply", incident_id=incident.id, at=now,
                           detail=f"{detail} added to open incident {incident.id}.")
        return Recorded(True, incident)


async def attach(store: Store, *, row: AlertRow, user: UserRef, incident_id: str, created: bool, actor: Actor,
                 now: datetime) -> None:
    """Attach a recorded alert to the incident it opened (`created`) or found open, and audit it."""
    detail = f"{row.source} alert {row.alert_id} ({row.severity})"
    async with store.write() as conn:
        await _attach(conn, row=row, incident_id=incident_id)
        await audit.append(conn, actor=actor, event="alert.received", target=user.user_principal_name,
                           outcome="new_thread" if created else "reply", incident_id=incident_id, at=now,
                           detail=f"{detail} {'opened' if created else 'added to open'} incident {incident_id}.")


async def _attach(conn: AsyncConnection, *, row: AlertRow, incident_id: str) -> None:
    await conn.execute(alerts.update().where(alerts.c.source == row.source, alerts.c.alert_id == row.alert_id)
                       .values(incident_id=incident_id))
