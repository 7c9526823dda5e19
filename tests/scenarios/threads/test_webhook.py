"""POST /api/alerts through the real app: signatures, thread reuse, dedupe, and nothing posted for a refusal."""

from __future__ import annotations

import json
import time

from services.store import incidents as incident_repo
from tests.scenarios.threads.conftest import ALICE_ID, CHANNEL, alert_body, deliver, signed
from tests.support.flowbot import FlowBot, texts


async def test_a_signed_alert_opens_a_thread_with_the_incident_card(channel_bot: FlowBot) -> None:
    bot = channel_bot
    status, body = await deliver(bot, alert_body("a-1"))
    assert status == 202 and body["decision"] == "new_thread" and body["status"] == "accepted"
    [thread] = bot.connector.threads()
    [(card_id, card)] = bot.cards(thread)
    shown = texts(card)
    assert "Alice Wilson" in shown and "Impossible travel" in shown and "Alerts (1)" in shown
    assert "contain.confirm" in json.dumps(card)  # the investigation's actions, ready to confirm
    incident = await incident_repo.find_open(bot.store, target_user_id=ALICE_ID)
    assert incident is not None and incident.id == body["incident_id"]
    assert incident.card_activity_id == card_id and incident.conversation_id == thread
    assert incident.conversation_ref and incident.conversation_ref["conversation"]["id"] == thread
    [created] = [c for c in bot.connector.created if c.get("channelData")]
    assert created["channelData"]["channel"]["id"] == CHANNEL and created["isGroup"] is True


async def test_a_second_alert_is_a_reply_in_the_same_thread_and_joins_the_history(channel_bot: FlowBot) -> None:
    bot = channel_bot
    await deliver(bot, alert_body("a-1"))
    status, body = await deliver(bot, alert_body("a-2", severity="medium", title="Mass download"))
    assert status == 202 and body["decision"] == "reply"
    [thread] = bot.connector.threads()
    assert bot.connector.texts(thread)[1:] == ["New alert: siem medium Mass download"]
    history = texts(bot.updates(thread)[-1])
    assert "Alerts (2)" in history and "Mass download" in history and "Impossible travel" in history


async def test_the_same_alert_id_is_recorded_once_and_posted_once(channel_bot: FlowBot) -> None:
    bot = channel_bot
    await deliver(bot, alert_body("a-1"))
    before = bot.connector.total
    status, body = await deliver(bot, alert_body("a-1"), ts=time.time() + 1)  # a new signature, same alert
    assert status == 202 and body["status"] == "duplicate" and body["decision"] == "none"
    assert bot.connector.total == before


async def test_refused_deliveries_post_nothing(channel_bot: FlowBot) -> None:
    bot = channel_bot
    before = bot.connector.total
    headers, raw = signed(alert_body("bad-1"), secret="not-the-secret")
    response = await bot.client.post("/api/alerts", data=raw, headers=headers)
    assert response.status == 401 and "signature" in (await response.json())["error"]

    headers, raw = signed(alert_body("stale-1"), ts=time.time() - 600)
    response = await bot.client.post("/api/alerts", data=raw, headers=headers)
    assert response.status == 401 and "five minutes" in (await response.json())["error"]

    response = await bot.client.post("/api/alerts", data=raw)  # unsigned
    assert response.status == 401

    headers, raw = signed(alert_body("replay-1"))
    first = await bot.client.post("/api/alerts", data=raw, headers=headers)
    assert first.status == 202
    await bot.parts.alert_threads.drain()
    after_first = bot.connector.total
    assert after_first > before  # the first delivery opened a thread
    replay = await bot.client.post("/api/alerts", data=raw, headers=headers)
    assert replay.status == 409 and (await replay.json())["error"]
    headers, raw = signed(b"{not json")
    response = await bot.client.post("/api/alerts", data=raw, headers=headers)
    assert response.status == 400 and (await response.json())["error"] == "The alert body is not valid JSON."
    await bot.parts.alert_threads.drain()
    assert bot.connector.total == after_first


async def test_a_big_body_is_refused_before_it_is_read(channel_bot: FlowBot) -> None:
    headers, _ = signed(b"{}")
    response = await channel_bot.client.post("/api/alerts", data=b"x" * (65 * 1024), headers=headers)
    assert response.status == 413 and "larger than" in (await response.json())["error"]


async def test_without_a_channel_the_alert_is_recorded_and_posted_once_one_is_chosen(bot: FlowBot) -> None:
    from tests.scenarios.threads.conftest import choose_channel

    status, body = await deliver(bot, alert_body("a-1"))
    assert status == 202 and body["decision"] == "new_thread"
    assert bot.connector.threads() == []
    incident = await incident_repo.get(bot.store, incident_id=body["incident_id"])
    assert incident is not None and incident.card_activity_id is None
    await choose_channel(bot)
    [thread] = bot.connector.threads()
    incident = await incident_repo.get(bot.store, incident_id=body["incident_id"])
    assert incident is not None and incident.conversation_id == thread


async def test_without_a_secret_the_webhook_says_it_is_not_configured(tmp_path, connector) -> None:  # type: ignore[no-untyped-def]
    from tests.scenarios.threads.conftest import start_bot

    bot = await start_bot(tmp_path, connector, CONTAIN_WEBHOOK_SECRET="")
    try:
        headers, raw = signed(alert_body("a-1"))
        response = await bot.client.post("/api/alerts", data=raw, headers=headers)
        assert response.status == 503 and "CONTAIN_WEBHOOK_SECRET" in (await response.json())["error"]
    finally:
        await bot.close()


async def test_redrawing_an_alert_incidents_card_keeps_its_alert_history(channel_bot: FlowBot) -> None:
    bot = channel_bot
    await deliver(bot, alert_body("a-1"))
    _, body = await deliver(bot, alert_body("a-2", severity="medium", title="Mass download"))
    [thread] = bot.connector.threads()
    [(card_id, _)] = bot.cards(thread)
    where = {"conversation_id": thread, "card_id": card_id}

    status, refreshed = await bot.click("contain.refresh", {"incident": body["incident_id"]}, **where)
    assert status == 200
    shown = texts(refreshed["value"])
    assert "Alerts (2)" in shown and "Mass download" in shown and "Impossible travel" in shown

    status, closed = await bot.click("contain.close", {"incident": body["incident_id"], "reason": "False positive"},
                                     **where)
    assert status == 200
    shown = texts(closed["value"])
    assert "closed" in shown.lower() and "Alerts (2)" in shown and "Mass download" in shown
