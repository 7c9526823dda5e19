"""The rest of the conversation: picking between similar names, the halfway reminder and expiry,
reject, and undo going through the same approval policy."""

from __future__ import annotations

from datetime import timedelta

from services.store import incidents as incident_repo
from services.store import requests as request_repo
from services.store.db import utcnow
from services.store.records import RequestState
from tests.support.flowbot import THREAD, FlowBot, action, open_incident, run, texts
from tests.support.people import ALICE, CAROL, DAVE, ERIN


async def test_an_ambiguous_name_offers_a_choice_and_the_pick_opens_the_incident(bot: FlowBot) -> None:
    await bot.say("/compromised a", user=DAVE)
    [(_, choice)] = bot.cards()
    picks = {b["data"]["user"]: b for b in [a for a in _all(choice) if a.get("verb") == "contain.choose"]}
    assert ALICE["aadObjectId"] in picks
    status, body = await bot.click("contain.choose", picks[ALICE["aadObjectId"]]["data"], user=DAVE)
    assert status == 200 and "Investigating Alice Wilson" in texts(body["value"])
    incident = await incident_repo.find_open(bot.store, target_user_id=ALICE["aadObjectId"])
    assert incident is not None
    assert "Possible account compromise" in texts(bot.cards()[-1][1])


async def test_a_pending_approval_is_reminded_once_then_expires(bot: FlowBot) -> None:
    incident = await open_incident(bot, "carol", CAROL["aadObjectId"])
    batch = await run(bot, incident, ["revoke_sessions"])
    before = len(bot.connector.texts(THREAD))
    for minutes in (16, 17):  # halfway, twice: one reminder
        await bot.flows.timers.tick(now=utcnow() + timedelta(minutes=minutes))
    reminders = [t for t in bot.connector.texts(THREAD)[before:] if "expires in" in t]
    assert len(reminders) == 1 and "Revoke sessions" in reminders[0]
    await bot.flows.timers.tick(now=utcnow() + timedelta(minutes=31))
    assert "Request expired" in texts(bot.updates()[-1])
    assert {r.state for r in await request_repo.for_batch(bot.store, batch_id=batch)} == {RequestState.EXPIRED}


async def test_reject_leaves_the_tenant_untouched(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE["aadObjectId"])
    batch = await run(bot, incident, ["block_signin"])
    writes = len(bot.writes)
    status, body = await bot.click("contain.reject", {"batch": batch}, user=ERIN)
    assert status == 200 and "Request rejected" in texts(body["value"])
    assert len(bot.writes) == writes


async def test_undo_goes_through_the_approval_policy(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE["aadObjectId"])
    batch = await run(bot, incident, ["block_signin"])
    await bot.click("contain.approve", {"batch": batch}, user=ERIN)
    done = bot.updates()[-1]
    undo = action(done, "contain.undo")
    status, body = await bot.click("contain.undo", undo["data"], user=DAVE, card_id=incident.card_activity_id)
    # Unblocking sign-in is a standard action: the undo is a confirmed request like any other, by a responder.
    assert status == 200 and "Unblock sign-in" in texts(body["value"])
    reqs = await request_repo.for_incident(bot.store, incident_id=incident.id)
    [unblock] = [r for r in reqs if r.action == "unblock_signin"]
    assert unblock.state is RequestState.SUCCEEDED and unblock.requested_by_id == DAVE["aadObjectId"]
    user = await bot.runtime.tenant.get_user(user_id=ALICE["aadObjectId"])
    assert user is not None and user.account_enabled
    # The account's owner (not a responder) cannot undo anything.
    status, body = await bot.click("contain.undo", undo["data"], user=ALICE, card_id=incident.card_activity_id)
    assert status == 200 and "responders group" in texts(body["value"])


def _undo_button(card: dict[str, object], title: str) -> dict[str, object]:
    buttons = [a for a in _all(card) if a.get("verb") == "contain.undo"]
    found = [a for a in buttons if a.get("title") == title]
    assert found, [a.get("title") for a in buttons]
    return found[0]


def _all(card: dict[str, object]) -> list[dict[str, object]]:
    from tests.support.flowbot import actions_of

    return actions_of(card)


async def test_the_card_offers_undo_for_what_the_services_can_undo(bot: FlowBot) -> None:
    """disable_legacy_protocols restores its snapshot; unblock_signin is undone by blocking again."""
    incident = await open_incident(bot, "alice", ALICE["aadObjectId"])
    await run(bot, incident, ["disable_legacy_protocols"])
    done = bot.updates()[-1]
    undo = action(done, "contain.undo")
    assert undo["title"] == "Undo: Disable legacy protocols"
    status, _ = await bot.click("contain.undo", undo["data"], user=DAVE, card_id=incident.card_activity_id)
    assert status == 200
    reqs = await request_repo.for_incident(bot.store, incident_id=incident.id)
    [restore] = [r for r in reqs if r.undo_of]
    assert restore.state is RequestState.SUCCEEDED, restore.result
    cas = await bot.runtime.tenant.get_cas_mailbox(mailbox="alice@contoso.com")
    assert cas is not None and cas.imap_enabled and cas.pop_enabled

    batch = await run(bot, incident, ["block_signin"])
    await bot.click("contain.approve", {"batch": batch}, user=ERIN)
    unblock = _undo_button(bot.updates()[-1], "Undo: Block sign-in")
    await bot.click("contain.undo", unblock["data"], user=DAVE, card_id=incident.card_activity_id)
    # Unblocking succeeded; the card now offers to undo that too (by blocking again, a high-impact request).
    assert _undo_button(bot.updates()[-1], "Undo: Unblock sign-in")
