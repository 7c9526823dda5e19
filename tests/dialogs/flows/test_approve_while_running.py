"""A second responder who looks early: the standard actions of a batch are still running (the sandbox
makes Set-Mailbox slow) while its high-impact actions wait for approval. Erin's `/compromised status
alice` (and the thread card) must show the progress and the Approve / Reject buttons together; Erin
approves at once, and the high-impact actions run without anyone waiting for the first ones to end."""

from __future__ import annotations

import asyncio
from typing import Any

from services.store import requests as request_repo
from services.store.records import RequestState
from tests.support import activities
from tests.support.flowbot import THREAD, FlowBot, action, actions_of, confirm, open_incident, texts
from tests.support.people import ALICE, DAVE, ERIN

ERIN_CHAT = "a:1erin-early"
SLOW_WRITE_MS = 3000  # remove_forwarding's Set-Mailbox: long enough to look and click meanwhile, even on a busy machine
STANDARD = ["revoke_sessions", "remove_forwarding"]
HIGH = ["reset_password"]


async def _states(bot: FlowBot, incident_id: str) -> dict[str, RequestState]:
    return {r.action: r.state for r in await request_repo.for_incident(bot.store, incident_id=incident_id)}


async def _until(predicate: Any, what: str, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _decisions(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["verb"]: a["data"] for a in actions_of(card) if a["verb"] in ("contain.approve", "contain.reject")}


async def test_second_responder_approves_while_the_standard_actions_still_run(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE["aadObjectId"])
    bot.runtime.sandbox.faults.add(route="EXO Set-Mailbox", latency_ms=SLOW_WRITE_MS)
    run_data = await confirm(bot, incident, STANDARD + HIGH)

    # Run, without waiting for the worker: the invoke's own answer already offers the decision.
    status, body = await bot.post(bot.invoke("contain.run", {**run_data, "reason": "Impossible travel"},
                                             card_id=incident.card_activity_id))
    assert status == 200
    answered = body["value"]
    assert "Containing…" in texts(answered)
    batch = _decisions(answered)["contain.approve"]
    assert _decisions(answered) == {"contain.approve": batch, "contain.reject": batch}
    assert set(batch) == {"batch"}

    async def forwarding_running() -> bool:
        return (await _states(bot, incident.id)).get("remove_forwarding") is RequestState.RUNNING

    await _until(forwarding_running, "remove_forwarding to start")

    # Erin, in her own chat, asks for the status while remove_forwarding's write is still on its way.
    await bot.post(activities.message("/compromised status alice", service_url=bot.connector.url,
                                      conversation_id=ERIN_CHAT, conversation_type="personal", user=ERIN))

    async def erin_has_a_card() -> bool:
        return bool(bot.cards(ERIN_CHAT))

    await _until(erin_has_a_card, "the status card in Erin's chat")
    [(_, status_card)] = bot.cards(ERIN_CHAT)
    states = await _states(bot, incident.id)
    assert states["remove_forwarding"] is RequestState.RUNNING, "the card must be read while the run is going"
    assert states["reset_password"] is RequestState.AWAITING_APPROVAL
    shown = texts(status_card)
    assert "Containing…" in shown and "Waiting for a second responder" in shown
    assert _decisions(status_card)["contain.approve"] == batch

    # Erin approves from her copy while the first write is still running.
    approve = action(status_card, "contain.approve")
    status, body = await bot.post(bot.invoke("contain.approve", approve["data"], user=ERIN, card_id="erin-copy",
                                             conversation_id=ERIN_CHAT, conversation_type="personal"))
    assert status == 200
    assert "Waiting for a second responder" not in texts(body["value"])  # decided: the buttons are gone
    approved = [r for r in await request_repo.for_batch(bot.store, batch_id=batch["batch"]) if r.action in HIGH]
    assert [r.state for r in approved] != [RequestState.AWAITING_APPROVAL]
    assert [r.decided_by_id for r in approved] == [ERIN["aadObjectId"]]

    # Everything lands; the thread card ends finished, and the summary is posted once.
    await bot.settle()
    final = await _states(bot, incident.id)
    assert final == {a: RequestState.SUCCEEDED for a in STANDARD + HIGH}, final
    last = bot.updates()[-1]
    assert "Containment finished" in texts(last) and _decisions(last) == {}
    # While it ran, the thread's own card offered the decision as well.
    assert any("Containing…" in texts(u) and _decisions(u) for u in bot.updates(THREAD))
    summaries = [c for _, c in bot.cards() if "Containment summary" in texts(c)]
    assert len(summaries) == 1
    assert DAVE["id"] in bot.connector.created[0]["members"][0]["id"]  # the password went to Dave's 1:1 chat
