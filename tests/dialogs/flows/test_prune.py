"""The timers forget replay keys once they are far older than any redelivery window, once an hour."""

from __future__ import annotations

from datetime import timedelta

from services.store import dedupe
from services.store.db import utcnow
from tests.support.flowbot import FlowBot


async def test_old_replay_keys_are_forgotten_and_recent_ones_kept(bot: FlowBot) -> None:
    # Two hours ahead of the clock: the app's own timer loop ticked once at start, with the real time.
    now = utcnow() + timedelta(hours=2)
    await dedupe.seen_activity(bot.store, activity_id="invoke:old", now=now - timedelta(days=8))
    await dedupe.seen_activity(bot.store, activity_id="invoke:recent", now=now - timedelta(minutes=5))
    timers = bot.flows.timers

    await timers.tick(now=now)
    assert not await dedupe.activity_seen(bot.store, activity_id="invoke:old")
    assert await dedupe.activity_seen(bot.store, activity_id="invoke:recent")

    # Within the hour nothing is pruned again, even what has aged past the window since.
    await dedupe.seen_activity(bot.store, activity_id="invoke:older", now=now - timedelta(days=9))
    await timers.tick(now=now + timedelta(minutes=30))
    assert await dedupe.activity_seen(bot.store, activity_id="invoke:older")
    await timers.tick(now=now + timedelta(hours=2))
    assert not await dedupe.activity_seen(bot.store, activity_id="invoke:older")
