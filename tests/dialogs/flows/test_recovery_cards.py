"""At start an instance redraws the thread cards of unclosed incidents with requests: a card left behind
by an instance that died between recording a result and posting the card catches up with the store."""

from __future__ import annotations

from dialogs.flows.recovery import refresh_cards
from services.store import incidents as incident_repo
from tests.support.flowbot import FlowBot, action, texts
from tests.support.people import DAVE

ALICE_ID = "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"


async def test_a_stale_thread_card_is_redrawn_from_the_store_at_start(bot: FlowBot) -> None:
    await bot.say("/compromised alice", user=DAVE)
    incident = await incident_repo.find_open(bot.store, target_user_id=ALICE_ID)
    assert incident is not None
    _, body = await bot.click("contain.confirm", {"incident": incident.id, "act_revoke_sessions": "true"},
                              card_id=incident.card_activity_id)
    run = action(body["value"], "contain.run")
    await bot.click("contain.run", {**run["data"], "reason": "drill"}, card_id=incident.card_activity_id)
    assert await bot.pending() == []

    # The instance "died" before its last card update: the thread still shows an older card.
    bot.connector.updates.clear()
    refreshed = await refresh_cards(bot.flows.deps, bot.flows.worker)
    assert refreshed == 1
    [update] = bot.updates()
    assert update is not None and "Revoke sessions" in texts(update)
    assert "succeeded" in texts(update).lower()
