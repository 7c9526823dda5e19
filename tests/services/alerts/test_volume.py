"""The acceptance volume, scaled to keep the suite fast: 240 webhook deliveries for 12 accounts (20 %
redeliveries, 5 % bad signatures), 25 in flight → exactly 12 incidents, every valid alert recorded once,
every bad one refused. bench/alerts.py runs the full 1,000 deliveries for 50 accounts the same way."""

from __future__ import annotations

import time

import sqlalchemy as sa

from services.runtime import Runtime
from services.store import incidents
from services.store.schema import alerts
from tests.services.alerts.workload import deliver_all, deliveries


async def test_a_burst_of_deliveries_makes_exactly_one_thread_per_account(crowd_runtime: Runtime) -> None:
    rt, now = crowd_runtime, time.time()
    batch = deliveries(total=240, accounts=12, duplicate_share=0.20, bad_share=0.05, now=now)
    valid_ids = {d.alert_id for d in batch if d.kind == "valid"}
    assert (len(batch), len(valid_ids)) == (240, 180)

    out = await deliver_all(store=rt.store, tenant=rt.tenant, batch=batch, now=now)

    assert out.decisions["new_thread"] == 12
    assert len(await incidents.list_incidents(rt.store, limit=1000)) == 12
    assert out.refused_by_kind == {"bad_signature": 12} and out.refusals == {401: 12}
    assert out.statuses == {"accepted": 180, "duplicate": 48}
    async with rt.store.read() as conn:
        rows = (await conn.execute(sa.select(alerts.c.alert_id, alerts.c.incident_id))).all()
    assert sorted(r.alert_id for r in rows) == sorted(valid_ids)  # each once, no bad one
    assert all(r.incident_id for r in rows)
    # Every account's alerts sit in that account's one incident.
    per_incident = {r.incident_id for r in rows}
    assert len(per_incident) == 12
