"""Alerts received from Identity Protection, Defender or the webhook; each (source, alert id) once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from services.store.db import Store, utcnow
from services.store.schema import alerts


@dataclass(frozen=True, slots=True)
class AlertRecord:
    source: str
    alert_id: str
    account: str
    severity: str
    title: str
    received_at: datetime
    incident_id: str | None


async def record(store: Store, *, source: str, alert_id: str, account: str, severity: str, title: str,
                 received_at: datetime | None = None) -> bool:
    """Store an alert; False if this (source, alert_id) was already recorded (a duplicate delivery)."""
    stmt = store.insert(alerts).values(
        source=source[:32], alert_id=alert_id[:256], account=account[:320], severity=severity[:16],
        title=title[:500], received_at=received_at or utcnow(),
    ).on_conflict_do_nothing(index_elements=["source", "alert_id"])
    async with store.write() as conn:
        result = await conn.execute(stmt)
    return bool(result.rowcount == 1)


async def link(store: Store, *, source: str, alert_id: str, incident_id: str) -> bool:
    async with store.write() as conn:
        result = await conn.execute(
            alerts.update().where(alerts.c.source == source, alerts.c.alert_id == alert_id)
            .values(incident_id=incident_id))
    return bool(result.rowcount == 1)


async def for_incident(store: Store, *, incident_id: str) -> list[AlertRecord]:
    """The alert history the incident card shows, oldest first."""
    query = (sa.select(alerts.c.source, alerts.c.alert_id, alerts.c.account, alerts.c.severity, alerts.c.title,
                       alerts.c.received_at, alerts.c.incident_id)
             .where(alerts.c.incident_id == incident_id).order_by(alerts.c.received_at, alerts.c.id))
    async with store.read() as conn:
        return [AlertRecord(**r) for r in (await conn.execute(query)).mappings().all()]
