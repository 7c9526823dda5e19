"""Benchmark: how long investigating alice takes with a real round trip to the tenant.

The in-process sandbox adds R ms to every request (default 100). Each run resolves "alice" and
investigates her (one fan-out of every independent read), through the real composition root:
MSAL, msgraph-sdk, the Exchange client. The same calls are then walked strictly one after the
other for comparison. One warm-up run first: tokens, the tenant's domains and consented apps'
names are cached for the life of a process, as in the bot; the cold run is reported separately.

    .venv/bin/python bench/investigate.py [--rtt 100] [--runs 10]

Last line: JSON {"rtt_ms", "median_ms", "sequential_median_ms", ...}. Target: median <= 2R + 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import build_runtime
from services.findings.investigation import investigate, reads_for
from services.findings.resolve import resolve
from services.settings import load_settings
from services.tenant.facade import Tenant
from services.vocabulary import Resolved


async def concurrent_run(tenant: Tenant) -> float:
    start = time.perf_counter()
    resolution = await resolve(tenant, "alice")
    assert isinstance(resolution, Resolved), resolution
    inv = await investigate(tenant=tenant, user=resolution.user)
    elapsed = (time.perf_counter() - start) * 1000
    assert inv.findings and not inv.gaps, inv.gaps
    return elapsed


async def sequential_run(tenant: Tenant) -> float:
    """The same calls, each awaited before the next starts."""
    start = time.perf_counter()
    domain = await tenant.default_domain()
    users = await tenant.find_users_by_address(address=f"alice@{domain}")
    await tenant.search_users(name="alice")
    user = users[0]
    for call in reads_for(tenant, user).values():
        await call
    return (time.perf_counter() - start) * 1000


async def main(rtt: float, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="contain-bench-") as home:
        settings = load_settings({"CONTAIN_HOME": home})
        async with build_runtime(settings, sandbox_overrides={"latency_ms": rtt, "persist": False}) as runtime:
            tenant = runtime.tenant
            cold = await concurrent_run(tenant)
            fast = [await concurrent_run(tenant) for _ in range(runs)]
            slow = [await sequential_run(tenant) for _ in range(runs)]
    target = 2 * rtt + 150
    result = {
        "rtt_ms": rtt, "runs": runs, "cold_ms": round(cold, 1),
        "median_ms": round(statistics.median(fast), 1), "p90_ms": round(sorted(fast)[int(0.9 * (runs - 1))], 1),
        "sequential_median_ms": round(statistics.median(slow), 1), "target_ms": target,
    }
    print(f"investigate alice, sandbox round trip {rtt:.0f} ms, {runs} runs (after one cold run)")
    print(f"{'':<28}{'median':>10}{'min':>10}{'max':>10}")
    print(f"{'resolve + fan-out':<28}{statistics.median(fast):>10.1f}{min(fast):>10.1f}{max(fast):>10.1f}")
    print(f"{'strictly sequential':<28}{statistics.median(slow):>10.1f}{min(slow):>10.1f}{max(slow):>10.1f}")
    print(f"{'cold first run':<28}{cold:>10.1f}")
    verdict = "meets" if result["median_ms"] <= target else "MISSES"
    print(f"target 2R + 150 = {target:.0f} ms: {verdict}; sequential / concurrent = "
          f"{result['sequential_median_ms'] / result['median_ms']:.1f}x")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", type=float, default=100.0, help="injected round trip per request, ms")
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each kind")
    ns = parser.parse_args()
    asyncio.run(main(ns.rtt, ns.runs))
