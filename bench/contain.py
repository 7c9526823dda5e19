"""Benchmark: containing alice, and a wave of 200 compromised accounts under throttling.

1. contain: the in-process sandbox adds R ms to every request (default 100). Each run restores the
   fixture, opens a fresh incident for alice (not timed) and times `run_direct` with every action
   the investigation recommends: requests created and claimed, then run by the engine the bot's worker
   uses (services.actions.engine.run_claimed), until each is written, verified and recorded in the store.
   Target: median <= 3R + 200 ms.
2. wave: a generated tenant with user001..user200, each a copy of alice's compromise, and a sandbox
   that allows T requests per second (429 + Retry-After above it). Every account gets the action
   subset WAVE_ACTIONS, WAVE_CONCURRENCY accounts at a time; an account whose run did not fully
   succeed is run again (its actions read first, so nothing lands twice). throttle_bound_s = the
   requests the service accepted / T; target wave_s <= 1.2 x bound. lost and duplicated come from
   the sandbox's write log: expected writes that never landed, and writes that landed twice.

    .venv/bin/python bench/contain.py [--rtt 100] [--runs 9] [--accounts 200] [--rps 40]

Last line: JSON {"rtt_ms", "contain_median_ms", "wave_s", "throttle_bound_s", "lost", "duplicated", ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import build_runtime
from sandbox.fixture import default_fixture_path
from services.actions.engine import run_direct
from services.findings.investigation import investigate
from services.settings import load_settings
from services.store import incidents
from services.store.records import IncidentSource
from services.vocabulary import ActionId, ActionStatus, Actor, UserRef

ACTOR = Actor("bench:contain", "Benchmark")
WAVE_ACTIONS = (ActionId.BLOCK_SIGNIN, ActionId.REVOKE_SESSIONS, ActionId.REMOVE_FORWARDING,
                ActionId.DISABLE_LEGACY_PROTOCOLS)
WAVE_WRITES = {"PATCH /users/{id}", "POST /users/{id}/revokeSignInSessions", "EXO Set-Mailbox", "EXO Set-CASMailbox"}
WAVE_CONCURRENCY = 24
_NS = uuid.UUID("6f1d7c1e-3f0a-4a51-9d8e-2b7c4e5a9f10")


async def _fresh_incident(runtime: Any, user: UserRef) -> Any:
    existing = await incidents.find_open(runtime.store, target_user_id=user.id)
    if existing is not None:
        await incidents.close(runtime.store, incident_id=existing.id, actor=ACTOR, reason="benchmark round")
    return (await incidents.open_incident(runtime.store, target=user, source=IncidentSource.COMMAND,
                                          opened_by=ACTOR)).incident


async def contain_alice(rtt: float, runs: int) -> tuple[list[float], int]:
    with tempfile.TemporaryDirectory(prefix="contain-bench-") as home:
        settings = load_settings({"CONTAIN_HOME": home})
        async with build_runtime(settings, sandbox_overrides={"latency_ms": rtt, "persist": False}) as runtime:
            user = await runtime.tenant.get_user(user_id="alice@contoso.com")
            times: list[float] = []
            actions = 0
            for i in range(runs + 1):  # the first run warms tokens, connections and the SDK's imports
                runtime.sandbox.reset()
                inv = await investigate(tenant=runtime.tenant, user=user)
                incident = await _fresh_incident(runtime, inv.user)
                start = time.perf_counter()
                results = await run_direct(tenant=runtime.tenant, writer=runtime.writer, store=runtime.store,
                                           incident=incident, user=inv.user, actions=inv.recommended_actions,
                                           actor=ACTOR)
                elapsed = (time.perf_counter() - start) * 1000
                bad = [r for r in results if r.status is not ActionStatus.SUCCEEDED or not r.verified]
                assert not bad, bad
                actions = len(results)
                if i:
                    times.append(elapsed)
            return times, actions


def wave_fixture(accounts: int, folder: Path) -> Path:
    """The default tenant plus user001..userNNN, each a copy of alice's compromise."""
    fx = json.loads(default_fixture_path().read_text())
    alice = next(u for u in fx["users"] if u["userPrincipalName"].startswith("alice@"))
    grant = next(g for g in fx.get("oauth2PermissionGrants", []) if g["principalId"] == alice["id"])
    blocked = next(b for b in fx.get("blockedSenders", []) if b["SenderAddress"].startswith("alice@"))
    for n in range(1, accounts + 1):
        name = f"user{n:03d}"
        user = copy.deepcopy(alice)
        user.update(id=str(uuid.uuid5(_NS, name)), userPrincipalName=f"{name}@contoso.com", mail=f"{name}@contoso.com",
                    displayName=f"User {n:03d}", givenName="User", surname=f"{n:03d}")
        user["mailbox"] = {**user["mailbox"], "alias": name}
        user.pop("auditRecords", None)
        fx["users"].append(user)
        fx["oauth2PermissionGrants"].append({**grant, "id": str(uuid.uuid5(_NS, f"grant/{name}")),
                                             "principalId": user["id"]})
        fx["blockedSenders"].append({**blocked, "SenderAddress": f"{name}@contoso.com"})
    fx["secureScore"] = {**fx.get("secureScore", {}), "days": 2}
    path = folder / "wave.json"
    path.write_text(json.dumps(fx))
    return path


async def wave(accounts: int, rps: float, rtt: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="contain-wave-") as home:
        fixture = wave_fixture(accounts, Path(home))
        settings = load_settings({"CONTAIN_HOME": str(Path(home) / "home"), "CONTAIN_SANDBOX_FIXTURE": str(fixture)})
        async with build_runtime(settings, sandbox_overrides={"latency_ms": rtt, "persist": False}) as runtime:
            state = runtime.sandbox.state
            users = [UserRef(id=u["id"], user_principal_name=u["userPrincipalName"], display_name=u["displayName"],
                             mail=u["mail"]) for u in state.users if u["userPrincipalName"].startswith("user")]
            opened = {}
            for u in users:
                opened[u.id] = (await incidents.open_incident(runtime.store, target=u, source=IncidentSource.ALERT,
                                                              opened_by=ACTOR)).incident
            await runtime.tenant.verified_domains()  # token and domains, as a running bot has them
            runtime.sandbox.faults.configure({"rules": [{"route": "*", "rps": rps}]})
            first_request = len(runtime.sandbox.request_log)
            gate = asyncio.Semaphore(WAVE_CONCURRENCY)
            reruns = Counter[str]()

            async def contain(u: UserRef) -> None:
                async with gate:
                    for attempt in range(6):
                        results = await run_direct(tenant=runtime.tenant, writer=runtime.writer, store=runtime.store,
                                                   incident=opened[u.id], user=u, actions=WAVE_ACTIONS, actor=ACTOR)
                        if all(r.status in (ActionStatus.SUCCEEDED, ActionStatus.SKIPPED) for r in results):
                            return
                        reruns[u.id] += 1
                        await asyncio.sleep(1.0 + attempt)

            start = time.perf_counter()
            await asyncio.gather(*(contain(u) for u in users))
            elapsed = time.perf_counter() - start
            served = [r for r in runtime.sandbox.request_log[first_request:] if not r.route.startswith("LOGIN")]
            accepted = [r for r in served if r.status != 429]
            wave_users = {u.id for u in users}
            landed = [(w.route, w.target) for w in runtime.sandbox.write_log
                      if w.route in WAVE_WRITES and w.target in wave_users]
            counts = Counter(landed)
            expected = {(route, u) for route in WAVE_WRITES for u in wave_users}
            return {"wave_s": round(elapsed, 2), "throttle_bound_s": round(len(accepted) / rps, 2),
                    "accepted_requests": len(accepted), "throttled_requests": len(served) - len(accepted),
                    "lost": len(expected - set(counts)), "duplicated": sum(n - 1 for n in counts.values() if n > 1),
                    "reruns": sum(reruns.values()), "accounts": len(users), "rps": rps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rtt", type=float, default=100.0, help="injected round trip, ms")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--rps", type=float, default=40.0, help="the sandbox's throttle, requests per second")
    args = parser.parse_args()

    times, actions = asyncio.run(contain_alice(args.rtt, args.runs))
    median = statistics.median(times)
    target = 3 * args.rtt + 200
    waved = asyncio.run(wave(args.accounts, args.rps, args.rtt))
    wave_target = 1.2 * waved["throttle_bound_s"]
    print(f"contain alice: {actions} actions, R = {args.rtt:.0f} ms, {len(times)} runs")
    print(f"  {'median':<22}{median:8.0f} ms   target <= {target:.0f} ms  {'ok' if median <= target else 'MISSED'}")
    print(f"  {'min / max':<22}{min(times):8.0f} / {max(times):.0f} ms")
    print(f"wave: {waved['accounts']} accounts x {len(WAVE_ACTIONS)} actions, throttle {args.rps:.0f} req/s, "
          f"{WAVE_CONCURRENCY} accounts at a time")
    print(f"  {'wave':<22}{waved['wave_s']:8.2f} s    target <= {wave_target:.2f} s "
          f"{'ok' if waved['wave_s'] <= wave_target else 'MISSED'}")
    print(f"  {'throttle bound':<22}{waved['throttle_bound_s']:8.2f} s    ({waved['accepted_requests']} accepted, "
          f"{waved['throttled_requests']} answered 429, {waved['reruns']} account re-runs)")
    print(f"  {'lost / duplicated':<22}{waved['lost']:8d} / {waved['duplicated']}")
    print(json.dumps({"rtt_ms": args.rtt, "contain_median_ms": round(median, 1), "wave_s": waved["wave_s"],
                      "throttle_bound_s": waved["throttle_bound_s"], "lost": waved["lost"],
                      "duplicated": waved["duplicated"], "contain_target_ms": target,
                      "wave_target_s": round(wave_target, 2), "rps": args.rps, "accounts": waved["accounts"],
                      "throttled_requests": waved["throttled_requests"], "reruns": waved["reruns"]}))


if __name__ == "__main__":
    main()
