"""Benchmark: the alert webhook under volume.

1,000 signed deliveries for 50 accounts (20 % redeliveries of an earlier alert, 5 % bad signatures),
25 in flight at a time, through accept_webhook with the real store and the in-process sandbox tenant
(50 extra accounts loaded from a generated fixture). Investigations are skipped (--investigate to
include them): this measures intake, deduplication and the thread decision.

    .venv/bin/python bench/alerts.py [--deliveries 1000] [--accounts 50] [--concurrency 25] [--investigate]

Last line: JSON {"deliveries", "accounts", "threads", "replies", "recorded", "duplicates", "refused",
"bad_refused", "incidents", "elapsed_s", "ok"}. Target: threads == incidents == accounts, recorded == the
number of distinct valid alerts, refused == bad deliveries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from bot import build_runtime
from services.settings import load_settings
from services.store import incidents
from services.store.schema import alerts
from tests.services.alerts.workload import deliver_all, deliveries, write_fixture


async def main(*, total: int, accounts: int, concurrency: int, investigate: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="contain-bench-alerts-") as home:
        fixture = write_fixture(Path(home) / "crowd.json", accounts)
        settings = load_settings({"CONTAIN_HOME": home, "CONTAIN_SANDBOX_FIXTURE": str(fixture)})
        async with build_runtime(settings, sandbox_overrides={"persist": False}) as rt:
            now = time.time()
            batch = deliveries(total=total, accounts=accounts, duplicate_share=0.20, bad_share=0.05, now=now)
            valid = {d.alert_id for d in batch if d.kind == "valid"}
            bad = sum(d.kind == "bad_signature" for d in batch)
            start = time.perf_counter()
            out = await deliver_all(store=rt.store, tenant=rt.tenant, batch=batch, now=now,
                                    concurrency=concurrency, investigate=investigate)
            elapsed = time.perf_counter() - start
            async with rt.store.read() as conn:
                recorded = list((await conn.execute(sa.select(alerts.c.alert_id))).scalars())
            opened = len(await incidents.list_incidents(rt.store, limit=10 * accounts))
    result: dict[str, object] = {
        "deliveries": len(batch), "accounts": accounts, "threads": out.decisions["new_thread"],
        "replies": out.decisions["reply"], "recorded": len(recorded), "recorded_unique": len(set(recorded)),
        "valid_alerts": len(valid), "duplicates": out.statuses["duplicate"], "refused": sum(out.refusals.values()),
        "bad_deliveries": bad, "bad_refused": out.refused_by_kind["bad_signature"], "incidents": opened,
        "elapsed_s": round(elapsed, 2), "deliveries_per_s": round(len(batch) / elapsed, 1),
    }
    result["ok"] = (result["threads"] == opened == accounts and set(recorded) == valid
                    and len(recorded) == len(valid) and result["refused"] == bad == result["bad_refused"])
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=25)
    parser.add_argument("--investigate", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(main(total=args.deliveries, accounts=args.accounts, concurrency=args.concurrency,
                              investigate=args.investigate))
    rows = [("deliveries", "deliveries"), ("accounts", "accounts"), ("threads (new incidents)", "threads"),
            ("replies in an existing thread", "replies"), ("alerts recorded", "recorded"),
            ("distinct valid alerts sent", "valid_alerts"), ("duplicates ignored", "duplicates"),
            ("refused", "refused"), ("bad signatures sent", "bad_deliveries"), ("incidents in the store", "incidents"),
            ("elapsed (s)", "elapsed_s"), ("deliveries / s", "deliveries_per_s"), ("all counts right", "ok")]
    for label, key in rows:
        print(f"{label:<32} {result[key]}")
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    cli()
