"""The pollers' path into the channel (sandbox alerts, restart without repeats), choosing the channel, and
threads posted at start for alert incidents that never got one."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from services.alerts.intake import accept_webhook
from services.alerts.poll import AlertPoller
from services.store import audit, conversations
from services.store import incidents as incident_repo
from tests.scenarios.threads.conftest import (
    ALICE_ID,
    CHANNEL,
    SECRET,
    alert_body,
    choose_channel,
    poller_of,
    raise_in_sandbox,
    signed,
    threads_of,
)
from tests.support.flowbot import FlowBot, texts
from tests.support.people import DAVE, NOBODY


async def test_a_sandbox_alert_becomes_a_thread_and_a_restarted_poller_does_not_repeat_it(
        channel_bot: FlowBot) -> None:
    bot = channel_bot
    poller = poller_of(bot)
    assert await poller.run_once() == []  # the first round sets the cursor: old detections are history
    await raise_in_sandbox(bot, "alice", kind="defender")
    [result] = await poller.run_once()
    assert result.decision.value == "new_thread"
    [thread] = bot.connector.threads()
    [(card_id, card)] = bot.cards(thread)
    assert "Alice Wilson" in texts(card) and "Defender" in texts(card)
    incident = await incident_repo.find_open(bot.store, target_user_id=ALICE_ID)
    assert incident is not None and incident.card_activity_id == card_id

    # A restart: a new poller over the same store hands nothing on again.
    total = bot.connector.total
    restarted = AlertPoller.from_runtime(bot.runtime, on_result=threads_of(bot).deliver)
    assert await restarted.run_once() == []
    assert bot.connector.total == total

    # The account flagged again (Identity Protection this time): a reply in the same thread.
    await raise_in_sandbox(bot, "alice", kind="risky_user", severity="high")
    [again] = await restarted.run_once()
    assert again.decision.value == "reply" and again.incident_id == incident.id
    assert bot.connector.threads() == [thread]
    assert bot.connector.texts(thread)[-1].startswith("New alert: Identity Protection high ")


async def test_a_responder_chooses_the_channel_and_doctor_sees_it(bot: FlowBot) -> None:
    from services.doctor import check_channel

    status, _ = await choose_channel(bot, DAVE)
    assert status == 200
    thread = "19:security@thread.tacv2;messageid=1700000000000"
    assert bot.connector.texts(thread)[-1] == "Alert threads will be posted in this channel (Security)."
    stored = await conversations.get(bot.store, key="channel:security")
    assert stored is not None and stored["conversation"]["id"] == CHANNEL and "activityId" not in stored
    assert "channel.set" in await bot.audit_events()
    check = await check_channel(store=bot.store, channel_id=None, required=True)
    assert check.ok


async def test_a_non_responder_cannot_choose_the_channel(bot: FlowBot) -> None:
    status, _ = await choose_channel(bot, NOBODY)
    assert status == 200
    thread = "19:security@thread.tacv2;messageid=1700000000000"
    assert "Only members of the responders group" in bot.connector.texts(thread)[-1]
    assert await conversations.get(bot.store, key="channel:security") is None
    rows = [e for e in await audit.recent(bot.store, limit=50) if e.event == "access.refused"]
    assert rows and "choose the security channel" in rows[-1].detail


async def test_set_channel_in_a_personal_chat_is_refused_with_a_sentence(bot: FlowBot) -> None:
    await bot.say("/compromised set-channel", user=DAVE, conversation_id="a:1dave", conversation_type="personal")
    assert "team channel" in bot.connector.texts("a:1dave")[-1]
    assert await conversations.get(bot.store, key="channel:security") is None


async def test_a_configured_channel_id_is_used_without_set_channel(tmp_path, connector) -> None:  # type: ignore[no-untyped-def]
    from tests.scenarios.threads.conftest import deliver, start_bot
    from tests.support import activities

    bot = await start_bot(tmp_path, connector, CONTAIN_CHANNEL_ID=CHANNEL)
    try:
        await bot.post(activities.conversation_update(service_url=connector.url))
        status, _ = await deliver(bot, alert_body("cfg-1"))
        assert status == 202
        assert len(connector.threads()) == 1
    finally:
        await bot.close()


async def test_alert_incidents_without_a_thread_get_one_when_the_bot_starts(channel_bot: FlowBot) -> None:
    """A crash between intake and posting: the incident is open, its thread was never posted."""
    import time

    from bot import create_app
    from dialogs.web import PARTS_KEY

    bot = channel_bot
    headers, raw = signed(alert_body("crash-1"))
    result = await accept_webhook(store=bot.store, tenant=bot.runtime.tenant, secret=SECRET, headers=headers,
                                  body=raw, now=time.time())
    assert result.decision.value == "new_thread" and bot.connector.threads() == []

    restarted = TestClient(TestServer(create_app(bot.runtime), host="127.0.0.1"))
    await restarted.start_server()  # the start-up hook posts what is missing
    try:
        await restarted.app[PARTS_KEY].alert_threads.drain()
        [thread] = bot.connector.threads()
        incident = await incident_repo.get(bot.store, incident_id=result.incident_id or "")
        assert incident is not None and incident.conversation_id == thread
    finally:
        await restarted.close()


async def test_every_background_task_starts_and_stops_through_one_registry(bot: FlowBot) -> None:
    tasks = bot.parts.tasks
    assert tasks.names == ["gateway", "responders", "recovery", "worker", "timers", "alert threads",
                           "alert pollers"]
    assert tasks.running == tasks.names
