"""The acceptance volume: 1,000 webhook deliveries for 50 accounts, 20 % duplicates and 5 % bad signatures,
delivered 25 at a time → exactly 50 incidents, every valid alert recorded once, every bad one refused."""

from __future__ import annotations

import time

import sqlalchemy as sa

from services.runtime import Runtime
from services.store import incidents
from services.store.schema import alerts
from tests.alerts.workload import deliver_all, deliveries


async def test_a_thousand_deliveries_make_exactly_fifty_threads(crowd_runtime: Runtime) -> None:
    rt, now = crowd_runtime, time.time()
    batch = deliveries(total=1000, accounts=50, duplicate_share=0.20, bad_share=0.05, now=now)
    valid_ids = {d.alert_id for d in batch if d.kind == "valid"}
    assert (len(batch), len(valid_ids)) == (1000, 750)

    out = await deliver_all(store=rt.store, tenant=rt.tenant, batch=batch, now=now)

    assert out.decisions["new_thread"] == 50
    assert len(await incidents.list_incidents(rt.store, limit=1000)) == 50
    assert out.refused_by_kind == {"bad_signature": 50} and out.refusals == {401: 50}
    assert out.statuses == {"accepted": 750, "duplicate": 200}
    async with rt.store.read() as conn:
        rows = (await conn.execute(sa.select(alerts.c.alert_id, alerts.c.incident_id))).all()
    assert sorted(r.alert_id for r in rows) == sorted(valid_ids)  # each once, no bad one
    assert all(r.incident_id for r in rows)
    # Every account's alerts sit in that account's one incident.
    per_incident = {r.incident_id for r in rows}
    assert len(per_incident) == 50
