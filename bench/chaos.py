"""Chaos benchmark: two bot instances on one PostgreSQL database, one sandbox tenant, SIGKILLs.

A fresh database; one standalone sandbox (`contain sandbox serve`, a generated tenant of 50 accounts
compromised like alice); the recording Bot Connector stand-in; and two `contain serve` processes with
their own PORT and CONTAIN_HOME. 50 incidents are driven through both instances' /api/messages with real
activity JSON: Dave types `/compromised userNN` and runs four standard actions and block sign-in (high);
Erin approves at the other instance. Meanwhile one instance at a time is SIGKILLed at random moments and
restarted. A request that fails because its instance died is sent again as Teams would: the same
activity to the other instance. At the end: every approved action applied exactly once (the sandbox's
write log), every card final (the last update of each incident's card shows nothing running or queued),
the audit chain verified.

    make chaos        # or: .venv/bin/python bench/chaos.py [--incidents 50] [--kills 20] [--seed 7]

Last line: JSON {"approved", "kills", "lost", "duplicated", "audit_ok", ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import asyncpg

from bench.contain import wave_fixture
from bot import open_store
from services.store import audit
from services.store import requests as request_repo
from services.store.db import Store
from services.store.records import PENDING_STATES
from tests.scenarios.instances.ledger import tally, writes_json
from tests.support import activities
from tests.support.connector import RecordingConnector
from tests.support.flowbot import actions_of, texts
from tests.support.people import DAVE, ERIN

PG = {"host": os.environ.get("CONTAIN_TEST_PG_HOST", "127.0.0.1"),
      "port": int(os.environ.get("CONTAIN_TEST_PG_PORT", "5432")),
      "user": os.environ.get("CONTAIN_TEST_PG_USER", "postgres")}
STANDARD = ["revoke_sessions", "confirm_compromised", "remove_forwarding", "enable_mailbox_audit"]
HIGH = ["block_signin"]
CONTAIN = str(Path(sys.executable).parent / "contain")
NOT_FINAL = ("running", "queued", "awaiting approval")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """One `contain` subprocess; its output goes to a log file kept for a failed run."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path, health: str) -> None:
        self.name, self.args, self.env, self.log, self.health = name, args, env, log, health
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self, http: aiohttp.ClientSession) -> float:
        began = time.perf_counter()
        with self.log.open("a") as out:
            self.proc = await asyncio.create_subprocess_exec(*self.args, env=self.env, stdout=out, stderr=out)
        self.starts += 1
        for _ in range(300):
            try:
                async with http.get(self.health, timeout=aiohttp.ClientTimeout(total=1)) as r:
                    if r.status == 200:
                        return time.perf_counter() - began
            except (aiohttp.ClientError, TimeoutError):
                pass
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start; see {self.log}")

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                await self.kill()


class Driver:
    """Sends activities as Teams would: to one instance, and the same activity to the other if the first
    died before answering."""

    def __init__(self, http: aiohttp.ClientSession, bots: list[Process], connector: RecordingConnector) -> None:
        self.http, self.bots, self.connector = http, bots, connector
        self.resent = 0

    async def send(self, activity: dict[str, Any], prefer: int, give_up_s: float = 90.0) -> Any:
        deadline = time.monotonic() + give_up_s
        i = prefer
        while time.monotonic() < deadline:
            url = f"http://127.0.0.1:{self.bots[i].env['PORT']}/api/messages"
            try:
                async with self.http.post(url, json=activity, timeout=aiohttp.ClientTimeout(total=30)) as r:
                    if r.status < 500:
                        body = await r.json() if r.content_type == "application/json" else None
                        return r.status, body
            except (aiohttp.ClientError, TimeoutError):
                pass
            self.resent += 1
            i = 1 - i
            await asyncio.sleep(0.2)
        raise RuntimeError("no instance answered for 90 s")

    def cards(self, thread: str) -> list[tuple[str, dict[str, Any]]]:
        return [(a.get("id") or "", att["content"]) for a in self.connector.sent.get(thread, [])
                for att in a.get("attachments") or () if att.get("contentType", "").endswith("card.adaptive")]

    def last_update(self, thread: str) -> dict[str, Any] | None:
        ups = [u for u in self.connector.updates.get(thread, []) if u.get("attachments")]
        return ups[-1]["attachments"][0]["content"] if ups else None

    async def until(self, check: Any, timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            await asyncio.sleep(0.2)
        return None


def _verb(card: dict[str, Any] | None, verb: str) -> dict[str, Any] | None:
    for a in actions_of(card or {}):
        if a.get("verb") == verb:
            return dict(a.get("data") or {})
    return None


def is_final(card: dict[str, Any] | None) -> bool:
    shown = texts(card or {}).lower()
    return card is not None and not any(word in shown for word in NOT_FINAL)


async def incident(n: int, d: Driver, rng: random.Random, log: dict[str, Any]) -> None:
    """One incident from /compromised to the approval; returns when the approval was accepted."""
    thread = f"19:chaos@thread.tacv2;messageid={1_000_000 + n}"
    url = d.connector.url
    first = rng.randrange(2)

    def incident_card() -> tuple[str, str] | None:
        for activity_id, card in d.cards(thread):
            data = _verb(card, "contain.confirm")
            if data and data.get("incident"):
                return activity_id, str(data["incident"])
        return None

    opened = None
    for _ in range(4):  # a message whose instance died after answering is typed again (a new activity)
        say = activities.message(f"/compromised user{n:03d}", service_url=url, conversation_id=thread,
                                 conversation_type="channel", user=DAVE)
        await d.send(say, first)
        opened = await d.until(incident_card, 20)
        if opened:
            break
    if not opened:
        log["stuck"] = "no incident card"
        return
    card_id, incident_id = opened
    log["incident"] = incident_id
    toggles = {f"act_{a}": "true" for a in STANDARD + HIGH}
    approve_data = None
    for attempt in range(4):
        # A replay marker can outlive an instance killed before the run committed: Teams' redelivery is then
        # refused as a replay, and the responder confirms again (a new click, a new nonce): counted below.
        if attempt:
            log["human_retries"] = log.get("human_retries", 0) + 1
        run_data = None
        while run_data is None:
            status, body = await d.send(activities.invoke("contain.confirm", {"incident": incident_id, **toggles},
                                                          service_url=url, conversation_id=thread, user=DAVE,
                                                          card_id=card_id), first)
            run_data = _verb((body or {}).get("value"), "contain.run") if status == 200 else None
            if run_data is None:
                approve_data = _verb((body or {}).get("value"), "contain.approve")
                if approve_data:
                    break  # the earlier run did land: its actions are already pending
        if approve_data or run_data is None:
            break
        run = activities.invoke("contain.run", {**run_data, "reason": "chaos drill"}, service_url=url,
                                conversation_id=thread, user=DAVE, card_id=card_id)
        status, body = await d.send(run, rng.randrange(2))
        # The clicker sees the invoke's answer (the card with Approve, or "already pending" with it) as well
        # as the thread's card: either is where a person finds the approval.
        approve_data = _verb((body or {}).get("value"), "contain.approve") if status == 200 else None
        approve_data = approve_data or await d.until(lambda: _verb(d.last_update(thread), "contain.approve"), 30)
        if approve_data:
            break
    if not approve_data:
        log["stuck"] = "no approval card"
        return
    for attempt in range(4):
        if attempt:
            log["human_retries"] = log.get("human_retries", 0) + 1
        approve = activities.invoke("contain.approve", approve_data, service_url=url, conversation_id=thread,
                                    user=ERIN, card_id=card_id)
        status, body = await d.send(approve, 1 - first)
        taken = await d.until(lambda: not _verb(d.last_update(thread), "contain.approve"), 20)
        if status == 200 and taken:
            log["approved"] = True
            return
    log["stuck"] = "approval not taken"


async def chaos(d: Driver, kills: int, rng: random.Random, http: aiohttp.ClientSession, log: list[float]) -> None:
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(0.3, 2.5))
        victim = d.bots[rng.randrange(2)]
        await victim.kill()
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        log.append(await victim.start(http))


async def settle(store: Store, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        pending = await request_repo.in_states(store, states=PENDING_STATES)
        if not pending or time.monotonic() > deadline:
            return len(pending)
        await asyncio.sleep(0.5)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    db = f"contain_chaos_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(database="postgres", timeout=10, **PG)
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(f"chaos: PostgreSQL is not reachable on {PG['host']}:{PG['port']} ({exc}); "
                         "start it (see .ci/run).") from None
    await admin.execute(f'CREATE DATABASE "{db}"')
    url = f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{db}"
    tmp = Path(tempfile.mkdtemp(prefix="contain-chaos-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CONTAIN_", "Microsoft"))}
    base.update(CONTAIN_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    connector = await RecordingConnector().start()
    sb_port = free_port()
    sandbox = Process("sandbox", [CONTAIN, "sandbox", "serve", "--port", str(sb_port), "--login-port",
                                  str(free_port()), "--fixture", str(wave_fixture(args.incidents, tmp)),
                                  "--latency-ms", str(args.latency_ms)],
                      {**base, "CONTAIN_HOME": str(tmp / "sandbox")}, tmp / "sandbox.log",
                      f"http://127.0.0.1:{sb_port}/_sandbox/info")
    bots = []
    for name in ("a", "b"):
        port = free_port()
        env = {**base, "PORT": str(port), "HOST": "127.0.0.1", "CONTAIN_DATABASE_URL": url,
               "CONTAIN_SANDBOX_URL": f"http://127.0.0.1:{sb_port}", "CONTAIN_HOME": str(tmp / name)}
        bots.append(Process(f"instance {name}", [CONTAIN, "serve"], env, tmp / f"{name}.log",
                            f"http://127.0.0.1:{port}/healthz"))
    async with aiohttp.ClientSession() as http:
        try:
            await sandbox.start(http)
            for bot in bots:
                await bot.start(http)
            d = Driver(http, bots, connector)
            logs: dict[int, dict[str, Any]] = {n: {} for n in range(1, args.incidents + 1)}
            restarts: list[float] = []
            began = time.perf_counter()

            gate = asyncio.Semaphore(args.concurrency)

            async def staggered(n: int) -> None:
                await asyncio.sleep((n - 1) * args.spread_s / args.incidents)
                async with gate:  # as many incidents in flight as a security team would have
                    await incident(n, d, rng, logs[n])

            chaos_task = asyncio.create_task(chaos(d, args.kills, rng, http, restarts))
            await asyncio.gather(*(staggered(n) for n in logs))
            await chaos_task
            store = await open_store(url)
            try:
                pending = await settle(store, 120)
                left = [(r.action, r.state.value, r.lease_owner) for r in
                        await request_repo.in_states(store, states=PENDING_STATES)]
                driven_s = time.perf_counter() - began
                await asyncio.sleep(2)  # the last card updates after the last finish
                async with http.get(f"http://127.0.0.1:{sb_port}/_sandbox/writes") as r:
                    writes = writes_json(await r.read())
                fixture = json.loads((tmp / "wave.json").read_text())
                users = {u["userPrincipalName"]: u["id"] for u in fixture["users"]}
                expected = [(users[f"user{n:03d}@contoso.com"], a) for n in logs
                            if logs[n].get("approved") for a in STANDARD + HIGH]
                counted = tally(writes, expected)
                threads = [f"19:chaos@thread.tacv2;messageid={1_000_000 + n}" for n in logs]
                final = sum(1 for t in threads if is_final(d.last_update(t)))
                verified = await audit.verify(store)
            finally:
                await store.close()
        finally:
            for bot in bots:
                await bot.stop()
            await sandbox.stop()
            await connector.stop()
    await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    await admin.close()
    stuck = {n: log["stuck"] for n, log in logs.items() if log.get("stuck")}
    return {
        "incidents": args.incidents, "approved": sum(1 for log in logs.values() if log.get("approved")),
        "approved_actions": len(expected), "kills": len(restarts), "restart_s_max": round(max(restarts, default=0), 2),
        "resent": d.resent, "human_retries": sum(log.get("human_retries", 0) for log in logs.values()),
        "pending_at_end": pending, "left": left[:10], "cards_final": final, "stuck": stuck,
        "lost": len(counted["lost"]), "duplicated": sum(n - 1 for _, n in counted["duplicated"]),
        "lost_pairs": counted["lost"][:10], "duplicated_pairs": counted["duplicated"][:10],
        "audit_ok": verified.ok, "audit_rows": verified.rows, "audit_message": verified.message,
        "elapsed_s": round(driven_s, 1), "logs": str(tmp),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=50)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--spread-s", type=float, default=40.0, help="incidents start over this many seconds")
    parser.add_argument("--concurrency", type=int, default=12, help="incidents in flight at a time")
    parser.add_argument("--latency-ms", type=float, default=40.0, help="sandbox round trip per request")
    args = parser.parse_args()
    out = asyncio.run(main_async(args))
    rows = [("incidents driven", out["incidents"]), ("approved (second responder, other instance)", out["approved"]),
            ("approved actions", out["approved_actions"]), ("instance SIGKILLs (each restarted)", out["kills"]),
            ("slowest restart to healthy (s)", out["restart_s_max"]), ("activities sent again", out["resent"]),
            ("clicks repeated by a person (replay refused after a crash)", out["human_retries"]),
            ("requests still pending at the end", out["pending_at_end"]),
            ("cards final (last update: nothing running/queued)", f"{out['cards_final']}/{out['incidents']}"),
            ("actions lost (no write)", out["lost"]), ("actions duplicated (extra writes)", out["duplicated"]),
            ("audit chain", out["audit_message"]), ("elapsed (s)", out["elapsed_s"]), ("seed", args.seed)]
    width = max(len(k) for k, _ in rows)
    print("Chaos: two instances, one PostgreSQL database, one sandbox tenant")
    for k, v in rows:
        print(f"  {k.ljust(width)}  {v}")
    if out["stuck"] or out["lost_pairs"] or out["duplicated_pairs"] or out["left"]:
        print(f"  details: stuck={out['stuck']} left={out['left']} lost={out['lost_pairs']} "
              f"duplicated={out['duplicated_pairs']}; "
              f"instance logs in {out['logs']}")
    print(json.dumps({"approved": out["approved"], "kills": out["kills"], "lost": out["lost"],
                      "duplicated": out["duplicated"], "audit_ok": out["audit_ok"],
                      "cards_final": out["cards_final"], "pending_at_end": out["pending_at_end"]}))


if __name__ == "__main__":
    main()
