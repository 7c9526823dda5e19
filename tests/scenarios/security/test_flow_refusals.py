"""Card clicks and commands that must be refused by the conversation flows: forged card data,
non-responders, self-approval, acting on one's own account, expired requests, and replays.

Each case drives the real app against the real sandbox tenant and asserts: no 5xx, nothing reached
the tenant (the sandbox's write log is unchanged), and the refusal left an audit row. Replays and
double clicks run the action exactly once. One app serves the module; each case opens its own incident.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from services.store import audit
from services.store import incidents as incident_repo
from services.store import requests as request_repo
from services.store.db import utcnow
from services.store.records import RequestState
from tests.support.connector import RecordingConnector
from tests.support.flowbot import THREAD, FlowBot, action, confirm, open_incident, run
from tests.support.people import ALICE, BOB, CAROL, DAVE, ERIN, FRANK, NOBODY

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALICE_ID, BOB_ID, CAROL_ID = ALICE["aadObjectId"], BOB["aadObjectId"], CAROL["aadObjectId"]
REFUSAL_EVENTS = {"access.refused", "request.refused", "card.refused", "card.replayed"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FlowBot]:
    connector = await RecordingConnector().start()
    harness = await FlowBot.start(Path(tmp_path_factory.mktemp("flows")), connector)
    yield harness
    await harness.close()
    await connector.stop()


class Watch:
    """What a case must leave unchanged (tenant writes) and what it must add (a refusal audit row)."""

    def __init__(self, bot: FlowBot) -> None:
        self.bot = bot

    async def __aenter__(self) -> Watch:
        await self.bot.settle()
        self.writes = len(self.bot.writes)
        self.seq = await _last_seq(self.bot)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if exc[0] is not None:
            return
        await self.bot.settle()
        assert len(self.bot.writes) == self.writes, "something reached the tenant"
        rows = [e for e in await audit.recent(self.bot.store, limit=100) if e.seq > self.seq]
        assert {e.event for e in rows} & REFUSAL_EVENTS, [e.event for e in rows]


async def _last_seq(bot: FlowBot) -> int:
    rows = await audit.recent(bot.store, limit=1)
    return rows[0].seq if rows else 0


def refused(status: int, body: Any, *, says: str | None = None) -> None:
    assert status == 200, status
    if says is not None:
        assert says.lower() in str(body).lower(), body


# -- forged card data -----------------------------------------------------------------------------

async def test_confirm_for_a_made_up_incident(bot: FlowBot) -> None:
    async with Watch(bot):
        refused(*await bot.click("contain.confirm", {"incident": "inc_madeup0000", "act_revoke_sessions": "true"}),
                says="does not exist")


async def test_confirm_for_a_closed_incident(bot: FlowBot) -> None:
    incident = await open_incident(bot, "bob", BOB_ID)
    await incident_repo.close(bot.store, incident_id=incident.id, actor=_actor(DAVE), reason="done")
    async with Watch(bot):
        refused(*await bot.click("contain.confirm", {"incident": incident.id, "act_revoke_sessions": "true"},
                                 card_id=incident.card_activity_id), says="closed")


async def test_confirm_with_an_action_contain_does_not_know(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    async with Watch(bot):
        refused(*await bot.click("contain.confirm", {"incident": incident.id, "act_delete_mailbox": "true"},
                                 card_id=incident.card_activity_id), says="does not know")


async def test_confirm_with_a_non_string_incident_id(bot: FlowBot) -> None:
    async with Watch(bot):
        refused(*await bot.click("contain.confirm", {"incident": {"$ne": None}, "act_revoke_sessions": "true"}))


async def test_run_with_a_made_up_nonce(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    async with Watch(bot):
        refused(*await bot.click("contain.run", {"incident": incident.id, "nonce": "chc_madeupnonce00000",
                                                 "reason": "x"}, card_id=incident.card_activity_id),
                says="not valid")


async def test_run_with_another_incidents_nonce(bot: FlowBot) -> None:
    alice = await open_incident(bot, "alice", ALICE_ID)
    bob = await open_incident(bot, "bob", BOB_ID)
    data = await confirm(bot, bob, ["revoke_sessions"])
    async with Watch(bot):
        refused(*await bot.click("contain.run", {"incident": alice.id, "nonce": data["nonce"], "reason": "x"},
                                 card_id=alice.card_activity_id), says="not valid")
    assert await request_repo.for_incident(bot.store, incident_id=alice.id) == []


async def test_approve_a_made_up_batch(bot: FlowBot) -> None:
    async with Watch(bot):
        refused(*await bot.click("contain.approve", {"batch": "bat_madeup0000"}, user=ERIN), says="does not exist")


async def test_approve_with_a_request_id_instead_of_a_batch(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    batch = await run(bot, incident, ["reset_password"])
    [req] = await request_repo.for_batch(bot.store, batch_id=batch)
    async with Watch(bot):
        refused(*await bot.click("contain.approve", {"batch": req.id}, user=ERIN))
    assert (await request_repo.get(bot.store, request_id=req.id)).state is RequestState.AWAITING_APPROVAL


async def test_approve_another_incidents_batch_from_this_incidents_card(bot: FlowBot) -> None:
    alice = await open_incident(bot, "alice", ALICE_ID)
    carol = await open_incident(bot, "carol", CAROL_ID)
    batch = await run(bot, carol, ["revoke_sessions"])  # Carol is an admin: every action waits
    async with Watch(bot):
        refused(*await bot.click("contain.approve", {"batch": batch}, user=ERIN, card_id=alice.card_activity_id),
                says="does not belong")
    assert {r.state for r in await request_repo.for_batch(bot.store, batch_id=batch)} == {
        RequestState.AWAITING_APPROVAL}


async def test_undo_a_made_up_request(bot: FlowBot) -> None:
    async with Watch(bot):
        refused(*await bot.click("contain.undo", {"request": "req_madeup000000"}), says="does not exist")


async def test_undo_a_request_that_never_ran(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    batch = await run(bot, incident, ["block_signin"])
    [req] = await request_repo.for_batch(bot.store, batch_id=batch)
    async with Watch(bot):
        refused(*await bot.click("contain.undo", {"request": req.id}, card_id=incident.card_activity_id),
                says="cannot be undone")


async def test_override_unblock_on_a_batch_with_nothing_refused(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    batch = await run(bot, incident, ["reset_password"])
    async with Watch(bot):
        refused(*await bot.click("contain.override_unblock", {"batch": batch}, card_id=incident.card_activity_id))
    assert not [r for r in await request_repo.for_incident(bot.store, incident_id=incident.id)
                if r.action == "unblock_sender"]


async def test_choose_a_user_who_was_not_a_candidate(bot: FlowBot) -> None:
    await bot.say("/compromised a", user=DAVE, conversation_id="a:1dave", conversation_type="personal")
    [(_, card)] = [c for c in bot.cards("a:1dave") if "Several accounts" in str(c[1])][-1:]
    nonce = action(card, "contain.choose")["data"]["choice"]
    await _close_open(bot, CAROL_ID)
    async with Watch(bot):
        refused(*await bot.click("contain.choose", {"choice": nonce, "user": CAROL_ID}, conversation_id="a:1dave",
                                 conversation_type="personal"), says="not one of the choices")
    assert await incident_repo.find_open(bot.store, target_user_id=CAROL_ID) is None


async def test_choose_with_a_made_up_choice(bot: FlowBot) -> None:
    async with Watch(bot):
        refused(*await bot.click("contain.choose", {"choice": "chc_madeupnonce00000", "user": ALICE_ID}),
                says="expired")


# -- non-responders ---------------------------------------------------------------------------------

async def test_non_responder_cannot_investigate(bot: FlowBot) -> None:
    await _close_open(bot, CAROL_ID)
    async with Watch(bot):
        status, _ = await bot.say("/compromised carol", user=BOB)
        assert status == 200
    assert await incident_repo.find_open(bot.store, target_user_id=CAROL_ID) is None
    assert "Only members of the responders group" in bot.connector.texts(THREAD)[-1]


async def test_non_responder_cannot_confirm(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    async with Watch(bot):
        refused(*await bot.click("contain.confirm", {"incident": incident.id, "act_revoke_sessions": "true"},
                                 user=BOB, card_id=incident.card_activity_id), says="responders group")


async def test_non_responder_cannot_run_a_confirmed_set(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    data = await confirm(bot, incident, ["revoke_sessions"])
    async with Watch(bot):
        refused(*await bot.click("contain.run", {**data, "reason": "x"}, user=BOB, card_id=incident.card_activity_id),
                says="responders group")
    assert await request_repo.for_incident(bot.store, incident_id=incident.id) == []


async def test_non_responder_cannot_approve(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    batch = await run(bot, incident, ["reset_password"])
    async with Watch(bot):
        refused(*await bot.click("contain.approve", {"batch": batch}, user=NOBODY), says="responders group")


async def test_the_target_cannot_reject_their_own_containment(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    batch = await run(bot, incident, ["reset_password"])
    async with Watch(bot):
        refused(*await bot.click("contain.reject", {"batch": batch}, user=ALICE), says="responders group")
    assert {r.state for r in await request_repo.for_batch(bot.store, batch_id=batch)} == {
        RequestState.AWAITING_APPROVAL}


async def test_a_click_without_an_aad_identity(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    anonymous = {"id": "29:1anon", "name": "Anonymous"}
    async with Watch(bot):
        refused(*await bot.click("contain.confirm", {"incident": incident.id, "act_revoke_sessions": "true"},
                                 user=anonymous, card_id=incident.card_activity_id))


# -- self-approval and one's own account --------------------------------------------------------------

async def test_requester_cannot_approve_their_own_high_action(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    batch = await run(bot, incident, ["reset_password"])
    async with Watch(bot):
        refused(*await bot.click("contain.approve", {"batch": batch}, user=DAVE, card_id=incident.card_activity_id),
                says="different responder")
    assert {r.state for r in await request_repo.for_batch(bot.store, batch_id=batch)} == {
        RequestState.AWAITING_APPROVAL}


async def test_a_responder_cannot_open_an_incident_about_themselves(bot: FlowBot) -> None:
    async with Watch(bot):
        await bot.say("/compromised dave@contoso.com", user=DAVE)
    assert await incident_repo.find_open(bot.store, target_user_id=DAVE["aadObjectId"]) is None
    assert "your own account" in bot.connector.texts(THREAD)[-1]


async def test_a_responder_cannot_run_actions_on_their_own_account(bot: FlowBot) -> None:
    incident = await open_incident(bot, "erin@contoso.com", ERIN["aadObjectId"], as_user=DAVE)
    async with Watch(bot):
        refused(*await bot.click("contain.confirm", {"incident": incident.id, "act_revoke_sessions": "true"},
                                 user=ERIN, card_id=incident.card_activity_id), says="your own account")


async def test_a_responder_cannot_approve_actions_on_their_own_account(bot: FlowBot) -> None:
    incident = await open_incident(bot, "erin@contoso.com", ERIN["aadObjectId"], as_user=DAVE)
    batch = await run(bot, incident, ["block_signin"])
    async with Watch(bot):
        refused(*await bot.click("contain.approve", {"batch": batch}, user=ERIN), says="your own account")


# -- time --------------------------------------------------------------------------------------------

async def test_approving_an_expired_request(bot: FlowBot) -> None:
    incident = await open_incident(bot, "carol", CAROL_ID)
    batch = await run(bot, incident, ["revoke_sessions"])
    await bot.flows.timers.tick(now=utcnow() + timedelta(minutes=31))
    assert "Request expired" in str(bot.updates()[-1])
    async with Watch(bot):
        refused(*await bot.click("contain.approve", {"batch": batch}, user=ERIN), says="expired")


async def test_acting_on_a_closed_incident(bot: FlowBot) -> None:
    incident = await open_incident(bot, "carol", CAROL_ID)
    batch = await run(bot, incident, ["revoke_sessions"])
    await incident_repo.close(bot.store, incident_id=incident.id, actor=_actor(DAVE), reason="false positive")
    async with Watch(bot):
        refused(*await bot.click("contain.approve", {"batch": batch}, user=ERIN), says="closed")


# -- replays and races: exactly one execution ---------------------------------------------------------

def _revokes(bot: FlowBot) -> int:
    return sum(1 for w in bot.writes if "revokeSignInSessions" in w.route)


async def test_a_redelivered_run_invoke_runs_once(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    data = await confirm(bot, incident, ["revoke_sessions"])
    activity = bot.invoke("contain.run", {**data, "reason": "x"}, card_id=incident.card_activity_id)
    before = _revokes(bot)
    assert (await bot.post(activity))[0] == 200
    await bot.settle()
    seq = await _last_seq(bot)
    status, body = await bot.post(activity)  # Teams retries the same activity id
    await bot.settle()
    refused(status, body, says="already handled")
    assert _revokes(bot) == before + 1
    assert "card.replayed" in {e.event for e in await audit.recent(bot.store, limit=20) if e.seq > seq}


async def test_a_double_click_on_run_runs_once(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    data = await confirm(bot, incident, ["revoke_sessions"])
    before = _revokes(bot)
    clicks = [bot.invoke("contain.run", {**data, "reason": "x"}, card_id=incident.card_activity_id)
              for _ in range(2)]
    results = await asyncio.gather(*(bot.post(a) for a in clicks))
    await bot.settle()
    assert [s for s, _ in results] == [200, 200]
    assert _revokes(bot) == before + 1
    assert len(await request_repo.for_incident(bot.store, incident_id=incident.id)) == 1


async def test_two_responders_approving_at_once_run_it_once(bot: FlowBot) -> None:
    incident = await open_incident(bot, "carol", CAROL_ID)
    batch = await run(bot, incident, ["revoke_sessions"])
    before = _revokes(bot)
    results = await asyncio.gather(bot.post(bot.invoke("contain.approve", {"batch": batch}, user=ERIN)),
                                   bot.post(bot.invoke("contain.approve", {"batch": batch}, user=FRANK)))
    await bot.settle()
    assert [s for s, _ in results] == [200, 200]
    assert _revokes(bot) == before + 1
    assert sum("already approved" in str(b).lower() for _, b in results) == 1


def _actor(user: dict[str, Any]) -> Any:
    from services.vocabulary import Actor

    return Actor(user["aadObjectId"], user["name"])


async def _close_open(bot: FlowBot, user_id: str) -> None:
    earlier = await incident_repo.find_open(bot.store, target_user_id=user_id)
    if earlier is not None:
        await incident_repo.close(bot.store, incident_id=earlier.id, actor=_actor(DAVE), reason="reset")
