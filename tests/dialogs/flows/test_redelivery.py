"""A click or a command whose handling died before its decision was stored is handled when Teams
delivers it again; once handled, the same delivery is a replay and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from services import approvals
from services.store import incidents as incident_repo
from tests.support.flowbot import FlowBot, action
from tests.support.people import DAVE, ERIN

ALICE_ID = "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"


async def _awaiting(bot: FlowBot) -> tuple[Any, dict[str, Any]]:
    await bot.say("/compromised alice", user=DAVE)
    incident = await incident_repo.find_open(bot.store, target_user_id=ALICE_ID)
    assert incident is not None
    status, body = await bot.click("contain.confirm", {"incident": incident.id, "act_block_signin": "true"},
                                   card_id=incident.card_activity_id)
    run = action(body["value"], "contain.run")
    status, body = await bot.click("contain.run", {**run["data"], "reason": "drill"},
                                   card_id=incident.card_activity_id)
    assert status == 200 and len(await bot.pending()) == 1
    return incident, action(body["value"], "contain.approve")["data"]


async def test_an_approval_interrupted_before_it_was_stored_is_handled_on_redelivery(
        bot: FlowBot, monkeypatch: pytest.MonkeyPatch) -> None:
    incident, data = await _awaiting(bot)
    real_approve = approvals.approve

    async def dies(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionResetError("the instance stopped mid-turn")

    monkeypatch.setattr(approvals, "approve", dies)
    activity = bot.invoke("contain.approve", data, user=ERIN, card_id=incident.card_activity_id)
    status, _ = await bot.post(activity)
    assert status != 200 or await bot.pending()  # nothing was decided
    assert len(await bot.pending()) == 1

    monkeypatch.setattr(approvals, "approve", real_approve)
    status, _ = await bot.post(activity)  # Teams delivers the same activity again
    await bot.settle()
    assert status == 200
    assert await bot.pending() == []
    blocks = [w for w in bot.writes if w.route == "PATCH /users/{id}"]
    assert len(blocks) == 1

    status, body = await bot.post(activity)  # and once more: now it is a replay
    await bot.settle()
    assert status == 200
    assert "already" in str(body).lower()
    assert len([w for w in bot.writes if w.route == "PATCH /users/{id}"]) == 1


async def test_running_the_same_actions_again_brings_the_thread_card_up_to_date(bot: FlowBot) -> None:
    # After an instance died between storing a Run and updating the thread's card, the requester runs the
    # same actions again: the answer says they are already pending, and the thread's card shows them.
    incident, _ = await _awaiting(bot)
    updates_before = len(bot.updates())
    status, body = await bot.click("contain.confirm", {"incident": incident.id, "act_block_signin": "true"},
                                   card_id="copy-elsewhere")
    run = action(body["value"], "contain.run")
    status, body = await bot.click("contain.run", {**run["data"], "reason": "again"}, card_id="copy-elsewhere")
    assert status == 200 and "already" in str(body).lower()
    assert len(await bot.pending()) == 1  # nothing new was requested
    assert len(bot.updates()) > updates_before
    assert action(bot.updates()[-1], "contain.approve")
