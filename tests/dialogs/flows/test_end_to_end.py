"""The whole conversation, as DESIGN.md tells it: /compromised alice → incident card → confirm the
recommended set → standard actions run and the card updates in place → high ones wait → a second
responder approves → every action succeeded and verified → the summary with Secure Score in the
thread → the temporary password only in the requester's 1:1 chat."""

from __future__ import annotations

from services.actions import catalog
from services.store import incidents as incident_repo
from tests.support.cardtree import elements
from tests.support.flowbot import THREAD, FlowBot, action, texts
from tests.support.people import DAVE, ERIN


async def _open(bot: FlowBot) -> tuple[object, dict[str, object]]:
    status, _ = await bot.say("/compromised alice", user=DAVE)
    assert status == 200
    incident = await incident_repo.find_open(bot.store, target_user_id=ALICE_ID)
    assert incident is not None and incident.card_activity_id
    [(posted_id, card)] = bot.cards()
    assert posted_id == incident.card_activity_id
    return incident, card


ALICE_ID = "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"


async def test_compromised_alice_to_contained_with_summary(bot: FlowBot) -> None:
    incident, card = await _open(bot)
    assert bot.connector.texts(THREAD)[0] == "Investigating alice…"
    shown = texts(card)
    assert "Alice Wilson" in shown and "SANDBOX" in shown.upper()
    toggles = {i["id"]: i["value"] for i in _inputs(card) if i["id"].startswith("act_")}
    recommended = [k[4:] for k, v in toggles.items() if v == "true"]
    assert "reset_password" in recommended and "remove_forwarding" in recommended

    # Confirm the recommended set: the invoke answers with the confirm card.
    status, body = await bot.click("contain.confirm", {"incident": incident.id, **toggles},
                                   card_id=incident.card_activity_id)
    assert status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    run = action(body["value"], "contain.run")
    writes_before = len(bot.writes)
    status, body = await bot.click("contain.run", {**run["data"], "reason": "Identity Protection alert"},
                                   card_id=incident.card_activity_id)
    assert status == 200
    assert body["value"]  # the running / awaiting card came back in the invoke response itself
    # Standard actions ran; high ones wait for a second responder.
    assert len(bot.writes) > writes_before
    pending = await bot.pending()
    assert {r.action for r in pending} == {a.value for a in catalog.high_impact_actions()} & set(recommended)
    assert bot.connector.updates[THREAD], "the card was updated in place"
    assert all(u["id"] == incident.card_activity_id for u in bot.connector.updates[THREAD])
    awaiting = bot.updates()[-1]
    approve = action(awaiting, "contain.approve")

    # Erin, in her own chat, asks for the status and approves from that copy of the card.
    erin_chat = "a:1erin"
    await bot.say("/compromised status alice", user=ERIN, conversation_id=erin_chat, conversation_type="personal")
    [(_, status_card)] = bot.cards(erin_chat)
    assert action(status_card, "contain.approve")["data"] == approve["data"]
    status, body = await bot.click("contain.approve", approve["data"], user=ERIN, card_id="erin-copy",
                                   conversation_id=erin_chat, conversation_type="personal")
    assert status == 200
    assert await bot.pending() == []

    final = bot.updates()[-1]
    shown = texts(final)
    assert "Containment finished" in shown and "failed" not in shown.lower()
    assert shown.count("succeeded · verified") == len(recommended)

    # The summary with Secure Score went to the thread.
    summary = [c for _, c in bot.cards() if "Containment summary" in texts(c)]
    assert len(summary) == 1 and "Secure Score" in texts(summary[0])

    # The temporary password went to Dave's 1:1 chat only.
    [created] = bot.connector.created
    assert created["members"][0]["id"] == DAVE["id"]
    [private] = bot.connector.sent["a:personal-1"]
    password = private["text"].split(": ", 1)[1].split("\n", 1)[0]
    assert len(password) >= 12
    assert password not in bot.everything_sent(but=private)
    audit_rows = " ".join(e.detail for e in await _audit(bot))
    assert password not in audit_rows
    db = (bot.runtime.settings.home / "contain.db").read_bytes()
    assert password.encode() not in db

    # Close, then investigate again: none of the addressed findings remain.
    close = await bot.click("contain.close", {"incident": incident.id, "reason": "Contained and verified"},
                            card_id=incident.card_activity_id)
    assert close[0] == 200
    await bot.say("/compromised alice", user=DAVE)
    fresh = await incident_repo.find_open(bot.store, target_user_id=ALICE_ID)
    assert fresh is not None and fresh.id != incident.id
    kinds = {f["kind"] for f in (fresh.investigation or {}).get("findings", [])}
    addressed = {"inbox_rule_forward", "inbox_rule_delete", "inbox_rule_hidden", "mailbox_forwarding",
                 "mailbox_delegate", "blocked_sender", "mailbox_audit_off", "mfa_method_added", "oauth_grant"}
    assert not kinds & addressed, kinds


def _inputs(card: dict[str, object]) -> list[dict[str, str]]:
    return [node for node in elements(card) if str(node.get("type", "")).startswith("Input.")]


async def _audit(bot: FlowBot) -> list[object]:
    from services.store import audit

    return list(await audit.recent(bot.store, limit=1000))
