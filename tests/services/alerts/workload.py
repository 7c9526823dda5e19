"""The webhook volume workload shared by tests/services/alerts/test_volume.py and bench/alerts.py: a sandbox
fixture with many extra accounts, and a shuffled mix of valid, duplicate and badly signed deliveries."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.fixture import default_fixture_path
from services.alerts.intake import IntakeResult, accept_webhook
from services.alerts.webhook import WebhookRefused, sign
from services.store.db import Store
from services.tenant.facade import Tenant

SECRET = "whsec-volume-test"
_NS = uuid.UUID("6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")


def account(i: int) -> str:
    return f"flagged{i:03d}@contoso.com"


def write_fixture(path: Path, accounts: int) -> Path:
    """The default tenant plus `accounts` plain users flagged001@… (no mailbox findings: only intake is measured)."""
    data: dict[str, Any] = json.loads(default_fixture_path().read_text())
    for i in range(1, accounts + 1):
        data["users"].append({"id": str(uuid.uuid5(_NS, f"user/{i}")), "userPrincipalName": account(i),
                              "displayName": f"Flagged User {i:03d}", "department": "Volume"})
    path.write_text(json.dumps(data))
    return path


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    kind: str  # valid | duplicate | bad_signature
    alert_id: str


def deliveries(*, total: int, accounts: int, duplicate_share: float, bad_share: float, now: float,
               seed: int = 7) -> list[Delivery]:
    """`total` deliveries: bad signatures, redeliveries of an earlier valid alert (new timestamp and
    signature, same alert id) and fresh valid alerts spread over the accounts (each account at least once)."""
    rng = random.Random(seed)
    n_bad, n_dup = round(total * bad_share), round(total * duplicate_share)
    n_valid = total - n_bad - n_dup
    assert n_valid >= accounts

    stamps: set[tuple[str, int]] = set()

    def make(alert_id: str, who: str, kind: str, *, tamper: bool = False) -> Delivery:
        body = json.dumps({"alert_id": alert_id, "source": "siem", "account": who, "severity": "high",
                           "title": "Impossible travel"}).encode()
        # A redelivery is re-signed with its own timestamp; the same body and timestamp again would be a replay.
        ts_int = int(now) - rng.randint(0, 240)
        while (alert_id, ts_int) in stamps:
            ts_int -= 1
        stamps.add((alert_id, ts_int))
        ts = str(ts_int)
        signature = sign(SECRET, ts, body)
        if tamper:
            signature = sign("not-the-secret", ts, body)
        return Delivery({"X-Contain-Timestamp": ts, "X-Contain-Signature": signature}, body, kind, alert_id)

    valid = [make(f"vol-{i:05d}", account(i % accounts + 1), "valid") for i in range(n_valid)]
    dups = [make(d.alert_id, json.loads(d.body)["account"], "duplicate") for d in rng.choices(valid, k=n_dup)]
    bad = [make(f"bad-{i:05d}", account(rng.randint(1, accounts)), "bad_signature", tamper=True)
           for i in range(n_bad)]
    mixed = valid + dups + bad
    rng.shuffle(mixed)
    return mixed


@dataclass
class VolumeOutcome:
    statuses: Counter[str]
    decisions: Counter[str]
    refusals: Counter[int]
    refused_by_kind: Counter[str]
    results: list[IntakeResult]


async def deliver_all(*, store: Store, tenant: Tenant, batch: list[Delivery], now: float, concurrency: int = 25,
                      investigate: bool = False) -> VolumeOutcome:
    gate = asyncio.Semaphore(concurrency)
    out = VolumeOutcome(Counter(), Counter(), Counter(), Counter(), [])

    async def one(d: Delivery) -> None:
        async with gate:
            try:
                result = await accept_webhook(store=store, tenant=tenant, secret=SECRET, headers=d.headers,
                                              body=d.body, now=now, investigate=investigate)
            except WebhookRefused as refused:
                out.refusals[refused.status] += 1
                out.refused_by_kind[d.kind] += 1
                return
            out.statuses[result.status.value] += 1
            out.decisions[result.decision.value] += 1
            out.results.append(result)

    await asyncio.gather(*(one(d) for d in batch))
    return out
