"""The sandbox flags alice; the poller opens her thread; the flow runs to contained in that thread; then
the incident is closed with a reason, takes no more actions, and the thread gets the final summary."""

from __future__ import annotations

from services.store import incidents as incident_repo
from services.store.records import IncidentStatus
from tests.scenarios.threads.conftest import ALICE_ID, poller_of, raise_in_sandbox
from tests.support.cardtree import elements
from tests.support.flowbot import FlowBot, action, actions_of, texts
from tests.support.people import DAVE, ERIN


def _toggles(card: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {node["id"]: node.get("value", "false") for node in elements(card)
            if node.get("type") == "Input.Toggle" and str(node.get("id", "")).startswith("act_")}


async def test_flagged_by_the_sandbox_contained_in_the_thread_then_closed(channel_bot: FlowBot) -> None:
    bot = channel_bot
    poller = poller_of(bot)
    await poller.run_once()
    await raise_in_sandbox(bot, "alice", kind="risky_user", severity="high")
    await poller.run_once()
    [thread] = bot.connector.threads()
    [(card_id, card)] = bot.cards(thread)
    incident = await incident_repo.find_open(bot.store, target_user_id=ALICE_ID)
    assert incident is not None and incident.card_activity_id == card_id
    toggles = _toggles(card)
    recommended = [k[4:] for k, v in toggles.items() if v == "true"]
    assert "reset_password" in recommended

    # `/compromised alice` elsewhere while the alert's incident is open points at it.
    await bot.say("/compromised alice", user=DAVE, conversation_id="a:1dave", conversation_type="personal")
    [(_, pointer)] = bot.cards("a:1dave")
    assert "already has an open incident" in texts(pointer)
    assert {a["verb"] for a in actions_of(pointer)} >= {"contain.new_incident", "contain.refresh"}

    # Dave confirms the recommended set in the thread; Erin approves the high-impact ones there.
    where = {"conversation_id": thread, "card_id": card_id}
    status, body = await bot.click("contain.confirm", {"incident": incident.id, **toggles}, user=DAVE, **where)
    assert status == 200
    run = action(body["value"], "contain.run")
    status, _ = await bot.click("contain.run", {**run["data"], "reason": "Identity Protection alert"}, user=DAVE,
                                **where)
    assert status == 200
    approve = action(bot.updates(thread)[-1], "contain.approve")
    status, _ = await bot.click("contain.approve", approve["data"], user=ERIN, **where)
    assert status == 200
    assert await bot.pending() == []

    final = texts(bot.updates(thread)[-1])
    assert "Containment finished" in final and "failed" not in final.lower()
    assert final.count("succeeded · verified") == len(recommended)
    assert all(u["id"] == card_id for u in bot.connector.updates[thread])  # one card, updated in place
    contained = await incident_repo.get(bot.store, incident_id=incident.id)
    assert contained is not None and contained.status is IncidentStatus.CONTAINED
    summaries = [c for _, c in bot.cards(thread) if "Containment summary" in texts(c)]
    assert len(summaries) == 1
    assert bot.connector.threads() == [thread]

    # A responder closes it with a reason: the card shows it closed, the thread gets the final summary.
    status, body = await bot.click("contain.close", {"incident": incident.id, "reason": "Contained and verified"},
                                   user=DAVE, **where)
    assert status == 200
    closed = await incident_repo.get(bot.store, incident_id=incident.id)
    assert closed is not None and closed.status is IncidentStatus.CLOSED
    assert closed.close_reason == "Contained and verified"
    assert "Incident closed by Dave Patel: Contained and verified" in bot.connector.texts(thread)
    assert len([c for _, c in bot.cards(thread) if "Containment summary" in texts(c)]) == 2

    # A closed incident takes no actions.
    writes = len(bot.writes)
    status, body = await bot.click("contain.confirm", {"incident": incident.id, **toggles}, user=DAVE, **where)
    assert status == 200 and "is closed" in texts(body["value"])
    assert len(bot.writes) == writes
