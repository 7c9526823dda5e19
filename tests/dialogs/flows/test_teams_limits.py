"""Teams' limits through the real app: the recording connector refuses what Teams refuses (a message over
the size limit, a conversation posted to too fast), and Contain still gets every post and card through:
cards reduced to fit, throttled posts sent again after Retry-After, bursts paced."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from sandbox.teams_connector import MESSAGE_LIMIT_UTF16_BYTES, utf16_bytes
from tests.support import activities
from tests.support.flowbot import THREAD, FlowBot, open_incident, run
from tests.support.people import DAVE

ALICE_ID = "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"


def _bloat_inbox(bot: FlowBot, rules: int) -> None:
    """Alice's mailbox gets `rules` forwarding rules with long names: an incident card Teams would refuse."""
    state = bot.runtime.sandbox.state
    mailbox = state.mailbox(state.find_user("alice@contoso.com")["id"])
    template = mailbox["inboxRules"][0]
    for i in range(rules):
        mailbox["inboxRules"].append({
            **template, "id": f"AQAAAKT6{i:04d}=", "ruleIdentity": str(9_000_000_000_000_000_000 + i),
            "name": f"Forward everything to the archive number {i} " + "x" * 150, "priority": 10 + i,
            "actions": {"forwardTo": [f"drop{i}-{'y' * 60}@exfil.example"], "stopProcessingRules": False}})


def _wire_size(activity: dict[str, Any]) -> int:
    return utf16_bytes(json.dumps({k: v for k, v in activity.items() if k != "id"}))


async def test_an_incident_card_over_teams_size_limit_arrives_reduced(bot: FlowBot) -> None:
    _bloat_inbox(bot, 40)
    status, _ = await bot.say("/compromised alice")
    assert status == 200
    assert bot.connector.limits.refused == []
    posted = bot.connector.sent[THREAD][-1]
    assert _wire_size(posted) <= MESSAGE_LIMIT_UTF16_BYTES
    card = posted["attachments"][0]["content"]
    assert "more lower-severity findings not shown (card size limit)." in json.dumps(card)
    # Still a working incident card: the buttons and the toggles survived.
    assert {"contain.confirm", "contain.refresh"} <= {a.get("verb") for a in card.get("actions", [])}


async def test_a_throttled_conversation_waits_for_retry_after_and_the_post_arrives(bot: FlowBot) -> None:
    bot.connector.limits.hold(THREAD, 1.2)
    started = time.monotonic()
    status, _ = await bot.say("/compromised help")
    assert status == 200
    assert time.monotonic() - started >= 1.0  # Retry-After said 2 s; nothing went out before the hold ended
    assert len(bot.connector.sent[THREAD]) == 1
    assert [s for s, _ in bot.connector.limits.refused] == [429]


async def test_a_burst_in_one_conversation_is_paced_and_nothing_is_lost(bot: FlowBot) -> None:
    help_requests = [activities.message("/compromised help", service_url=bot.connector.url, conversation_id=THREAD,
                                        conversation_type="channel", user=DAVE) for _ in range(11)]
    results = await asyncio.gather(*(bot.post(a) for a in help_requests))
    await bot.settle()
    assert [status for status, _ in results] == [200] * 11
    assert len(bot.connector.sent[THREAD]) == 11
    # Teams' pace was kept: any 429 the stand-in gave was waited out and sent again.
    assert all(status == 429 for status, _ in bot.connector.limits.refused)


async def test_a_run_s_card_updates_all_land_and_the_last_one_shows_the_end(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    await run(bot, incident, ["revoke_sessions", "disable_inbox_rules", "remove_forwarding", "remove_delegates",
                              "disable_legacy_protocols", "reset_mfa", "revoke_oauth_grants", "enable_mailbox_audit"])
    await bot.settle()
    assert all(status == 429 for status, _ in bot.connector.limits.refused)
    last = json.dumps(bot.updates()[-1])
    assert "Containing" not in last and "running" not in last.lower()
