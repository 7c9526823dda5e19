"""Benchmark: the alert webhook under volume, end to end through the bot's HTTP endpoint.

1,000 signed deliveries for 50 accounts (20 % redeliveries of an earlier alert, 5 % bad signatures), 25 in
flight, over real HTTP to POST /api/alerts of the real app (bot.create_app, sandbox mode, authentication
off, on a loopback port). The in-process sandbox tenant holds 50 extra accounts (tests/services/alerts/workload.py);
a recording Bot Connector stand-in on loopback is the serviceUrl, and the security channel is chosen the
way a responder does it (the bot is added to the team, then `/compromised set-channel`). Investigations run
as in production. After the last answer the bench waits until posting settles, then counts threads and
replies from what the Bot Connector saw, refusals from the HTTP statuses, and alerts from the store.

    .venv/bin/python bench/alerts_http.py [--deliveries 1000] [--accounts 50] [--concurrency 25]

Last line: JSON {"deliveries", "accounts", "threads", "replies", "recorded", "duplicates", "refused",
"bad_deliveries", "elapsed_s", "ok", "threads_complete", ...}. "ok" is the acceptance: threads == accounts (one
per account, each the thread of that account's one incident), every valid alert recorded exactly once, every
good delivery answered 202 (redeliveries flagged "duplicate"), every bad one refused with 401. "threads_complete"
looks at what a responder reads once posting settled: every alert on its thread (on the card or as a reply) and
every thread card showing its investigation. Exit status 0 when both hold, 1 when a count is wrong, 2 when only
a thread is incomplete.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import sqlalchemy as sa
from aiohttp import web

from services.settings import load_settings
from services.store import incidents as incident_repo
from services.store.schema import alerts
from tests.scenarios.threads.conftest import CHANNEL, ChannelConnector
from tests.services.alerts.workload import SECRET, Delivery, deliveries, write_fixture
from tests.support import activities
from tests.support.people import DAVE

SET_CHANNEL_IN = f"{CHANNEL};messageid=1700000000000"  # the responder types set-channel in a thread of it
_ALERT_COUNT = re.compile(r"Alerts \((\d+)\)")
_INVESTIGATED_NEVER = '"Investigated \\u2014"'  # cards.text.when(None), as json.dumps writes it


async def _choose_channel(http: aiohttp.ClientSession, bot_url: str, connector: ChannelConnector, store: Any) -> None:
    """Add the bot to the team, then have a responder (Dave, in the fixture's responders group) choose it."""
    from dialogs.flows.channel import security_channel

    added = activities.conversation_update(service_url=connector.url)  # from Dave
    chosen = activities.message("/compromised set-channel", service_url=connector.url,
                                conversation_id=SET_CHANNEL_IN, conversation_type="channel", user=DAVE)
    for activity in (added, chosen):
        async with http.post(f"{bot_url}/api/messages", json=activity) as response:
            if response.status != 200:
                raise RuntimeError(f"the bot answered {response.status} to a {activity['type']} activity")
    # The channel is stored before the bot says so in the thread.
    await connector.wait_for(lambda c: any(t.startswith("Alert threads will be posted in this channel")
                                           for t in c.texts(SET_CHANNEL_IN)), timeout_s=10)
    if await security_channel(store, configured_id=None) is None:
        raise RuntimeError("set-channel was answered but no security channel is stored")


async def _send_all(http: aiohttp.ClientSession, url: str, batch: list[Delivery], concurrency: int
                    ) -> Counter[tuple[str, int, str]]:
    """POST every delivery; counts (kind, HTTP status, answered status) — e.g. ("duplicate", 202, "duplicate")."""
    gate = asyncio.Semaphore(concurrency)
    seen: Counter[tuple[str, int, str]] = Counter()

    async def one(d: Delivery) -> None:
        async with gate, http.post(url, data=d.body, headers={**d.headers, "Content-Type": "application/json"}
                                   ) as response:
            answer = await response.json(content_type=None)
            seen[(d.kind, response.status, str(answer.get("status")))] += 1

    await asyncio.gather(*(one(d) for d in batch))
    return seen


async def _settle(parts: Any, connector: ChannelConnector, quiet_s: float = 0.3) -> None:
    """Wait until no alert post is running and the Bot Connector has heard nothing new for `quiet_s`."""
    threads, gateway = parts.alert_threads, parts.gateway
    async with asyncio.timeout(120):
        while True:
            await threads.drain()
            await gateway.drain()
            before = connector.total
            await asyncio.sleep(quiet_s)
            if connector.total == before and not threads._tasks and not gateway._tasks:
                return


async def measure(*, home: Path, total: int = 1000, accounts: int = 50, concurrency: int = 25,
                  duplicate_share: float = 0.20, bad_share: float = 0.05) -> dict[str, Any]:
    """Run the volume through POST /api/alerts and return the counts (see the module docstring)."""
    from bot import build_runtime, create_app
    from dialogs.web import PARTS_KEY
    from services.runtime import Tuning

    fixture = write_fixture(home / "crowd.json", accounts)
    settings = load_settings({"CONTAIN_HOME": str(home / "home"), "CONTAIN_SANDBOX_FIXTURE": str(fixture),
                              "CONTAIN_WEBHOOK_SECRET": SECRET})
    connector = ChannelConnector()
    await connector.start()
    try:
        # Only the webhook posts threads.
        async with build_runtime(settings, sandbox_overrides={"persist": False},
                                 tuning=Tuning(poll_alerts=False, timer_interval_s=3600.0)) as runtime:
            app = create_app(runtime)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            try:
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                bot_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
                limits = aiohttp.TCPConnector(limit=concurrency)
                async with aiohttp.ClientSession(connector=limits) as http:
                    await _choose_channel(http, bot_url, connector, runtime.store)
                    await _settle(app[PARTS_KEY], connector)
                    channel_posts = connector.total
                    # The workload stamps deliveries up to 240 s before `now`; centring them on the present
                    # leaves 3 minutes before the last one would be stale (the bot refuses > 5 minutes either way).
                    batch = deliveries(total=total, accounts=accounts, duplicate_share=duplicate_share,
                                       bad_share=bad_share, now=time.time() + 120)
                    start = time.perf_counter()
                    seen = await _send_all(http, f"{bot_url}/api/alerts", batch, concurrency)
                    answered = time.perf_counter() - start
                    await _settle(app[PARTS_KEY], connector)
                    elapsed = time.perf_counter() - start
                result = await _count(runtime, connector, batch, seen)
            finally:
                await runner.cleanup()
    finally:
        await connector.stop()
    result.update(channel_posts_before=channel_posts, answered_s=round(answered, 2), elapsed_s=round(elapsed, 2),
                  deliveries_per_s=round(len(batch) / answered, 1))
    return result


async def _count(runtime: Any, connector: ChannelConnector, batch: list[Delivery],
                 seen: Counter[tuple[str, int, str]]) -> dict[str, Any]:
    accounts = len({json.loads(d.body)["account"] for d in batch if d.kind == "valid"})
    valid = sorted(d.alert_id for d in batch if d.kind == "valid")
    n_dup = sum(d.kind == "duplicate" for d in batch)
    n_bad = sum(d.kind == "bad_signature" for d in batch)

    threads = connector.threads(CHANNEL)
    started = [c for c in connector.created if (c.get("channelData") or {}).get("channel")]
    replies = {t: [a for a in connector.sent[t][1:] if (a.get("text") or "").startswith("New alert:")]
               for t in threads}
    root_count = {t: _alerts_on(connector.sent[t][0]) for t in threads}
    final = {t: _final_card(connector, t) for t in threads}
    async with runtime.store.read() as conn:
        rows = (await conn.execute(sa.select(alerts.c.alert_id, alerts.c.incident_id))).all()
    opened = await incident_repo.list_incidents(runtime.store, limit=10 * len(batch))
    per_incident = Counter(r.incident_id for r in rows)
    thread_of = {i.id: i.conversation_id for i in opened}
    # Every alert is on its thread: on the card as first drawn or as last updated, or a reply after the card.
    unseen = 0
    for incident in opened:
        t = thread_of[incident.id] or ""
        shown = max(root_count.get(t, 0) + len(replies.get(t, [])), _alerts_on(final[t]) if t in final else 0)
        unseen += max(0, per_incident[incident.id] - shown)
    uninvestigated = sum(_INVESTIGATED_NEVER in json.dumps(card) for card in final.values())
    # A reply that reaches the bot before its incident's investigation ends starts the thread early;
    # a later alert's card update then shows the investigation. Counted to show how often it happens.
    posted_early = sum(_INVESTIGATED_NEVER in json.dumps(connector.sent[t][0]) for t in threads)

    status = Counter((kind, code) for (kind, code, _), n in seen.items() for _ in range(n))
    answers = Counter(answer for (_, code, answer), n in seen.items() if code == 202 for _ in range(n))
    result: dict[str, Any] = {
        "deliveries": len(batch), "accounts": accounts, "threads": len(threads), "thread_starts": len(started),
        "replies": sum(len(r) for r in replies.values()),
        "card_updates": sum(len(v) for v in connector.updates.values()),
        "incidents": len(opened), "incident_accounts": len({i.target_user_id for i in opened}),
        "incidents_in_their_thread": sum(i.conversation_id in threads for i in opened),
        "recorded": len(rows), "recorded_unique": len({r.alert_id for r in rows}), "valid_alerts": len(valid),
        "accepted": answers["accepted"], "duplicates": answers["duplicate"], "sent_duplicates": n_dup,
        "http_202": sum(n for (_, code), n in status.items() if code == 202),
        "refused": sum(n for (_, code), n in status.items() if code == 401),
        "bad_deliveries": n_bad, "bad_refused": status[("bad_signature", 401)],
        "other_statuses": sorted({code for (_, code) in status if code not in (202, 401)}),
        "alerts_not_on_their_thread": unseen, "cards_without_investigation": uninvestigated,
        "cards_posted_before_investigation": posted_early,
    }
    result["ok"] = bool(
        result["threads"] == result["thread_starts"] == accounts
        and result["incidents"] == result["incident_accounts"] == result["incidents_in_their_thread"] == accounts
        and sorted(r.alert_id for r in rows) == valid
        and result["accepted"] == len(valid) and result["duplicates"] == n_dup
        and result["http_202"] == len(valid) + n_dup
        and result["refused"] == result["bad_refused"] == n_bad and not result["other_statuses"]
    )
    # Beyond the acceptance: what a responder reads in each thread once posting settled.
    result["threads_complete"] = unseen == 0 and uninvestigated == 0
    return result


def _alerts_on(activity: dict[str, Any]) -> int:
    return max((int(n) for n in _ALERT_COUNT.findall(json.dumps(activity))), default=0)


def _final_card(connector: ChannelConnector, thread: str) -> dict[str, Any]:
    """The thread's card as a responder sees it now: its last update, else the root post."""
    root = connector.sent[thread][0]
    updates = [u for u in connector.updates.get(thread, []) if u.get("id") == root.get("id")]
    return updates[-1] if updates else root


ROWS = (("deliveries sent over HTTP", "deliveries"), ("accounts", "accounts"),
        ("channel threads started", "threads"), ("create-conversation calls", "thread_starts"),
        ("replies in a thread", "replies"), ("card updates (alert history)", "card_updates"),
        ("incidents (distinct accounts)", "incidents"), ("incidents in their own thread", "incidents_in_their_thread"),
        ("alerts recorded", "recorded"), ("distinct valid alerts sent", "valid_alerts"),
        ("202 accepted", "accepted"), ("202 duplicate", "duplicates"), ("duplicates sent", "sent_duplicates"),
        ("401 refused", "refused"), ("bad signatures sent", "bad_deliveries"),
        ("other statuses", "other_statuses"), ("acceptance counts right", "ok"),
        ("alerts not on their thread", "alerts_not_on_their_thread"),
        ("cards first posted uninvestigated", "cards_posted_before_investigation"),
        ("thread cards never investigated", "cards_without_investigation"), ("threads complete", "threads_complete"),
        ("all answered (s)", "answered_s"), ("settled (s)", "elapsed_s"), ("deliveries / s", "deliveries_per_s"))


def cli() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="contain-bench-alerts-http-") as home:
        result = asyncio.run(measure(home=Path(home), total=args.deliveries, accounts=args.accounts,
                                     concurrency=args.concurrency))
    for label, key in ROWS:
        print(f"{label:<34} {result[key]}")
    print(json.dumps(result))
    sys.exit(0 if result["ok"] and result["threads_complete"] else 1 if not result["ok"] else 2)


if __name__ == "__main__":
    cli()
