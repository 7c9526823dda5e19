"""What the worker posts: while one update of an incident's card is posting, further updates of that card
do not queue their own posts (the running one renders once more when it is done); and a batch's summary
follows its last action in the same round."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from dialogs.router import UpdateCard
from services.store import requests as request_repo
from services.store.records import RequestState
from tests.support.flowbot import FlowBot, confirm, open_incident, texts

ALICE_ID = "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"


class GatedThread:
    """A thread whose posts are recorded, then held until the test opens the gate."""

    def __init__(self) -> None:
        self.posts: list[Any] = []
        self.gate = asyncio.Event()
        self.posted = asyncio.Condition()

    def poster(self, _reference: Any) -> GatedThread:
        return self

    async def post(self, output: Any) -> None:
        async with self.posted:
            self.posts.append(output)
            self.posted.notify_all()
        await self.gate.wait()


async def test_updates_arriving_while_one_posts_become_one_more_post(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    worker = bot.flows.worker
    await worker.stop()  # nothing else posts while the test drives the updates
    thread = GatedThread()
    worker.deps = dataclasses.replace(worker.deps, post_to=thread.poster)

    first = asyncio.create_task(worker.update_card(incident))
    async with thread.posted:
        await thread.posted.wait_for(lambda: len(thread.posts) == 1)
    # Five more changes land while the first post is held: each returns at once, nothing is posted yet.
    await asyncio.wait_for(asyncio.gather(*(worker.update_card(incident) for _ in range(5))), timeout=10)
    assert len(thread.posts) == 1

    thread.gate.set()
    await asyncio.wait_for(first, timeout=10)
    assert len(thread.posts) == 2  # the running update rendered once more, for all five
    assert all(isinstance(p, UpdateCard) and p.activity_id == incident.card_activity_id for p in thread.posts)
    assert "Alice Wilson" in texts(thread.posts[-1].card)

    # With nothing running, an update posts again at once.
    await worker.update_card(incident)
    assert len(thread.posts) == 3


async def test_the_summary_is_posted_by_the_round_that_ran_the_batchs_last_action(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alice", ALICE_ID)
    worker = bot.flows.worker
    await worker.stop()  # rounds are driven by hand below
    data = await confirm(bot, incident, ["revoke_sessions"])  # standard for a non-admin: runs without approval
    status, _ = await bot.post(bot.invoke("contain.run", {**data, "reason": "test"},
                                          card_id=incident.card_activity_id))
    assert status == 200
    await bot.parts.gateway.drain()
    assert not [c for _, c in bot.cards() if "Containment summary" in texts(c)]

    assert await worker.run_once() == 1  # one round, which claimed and ran the batch
    [req] = await request_repo.for_incident(bot.store, incident_id=incident.id)
    assert req.state is RequestState.SUCCEEDED
    assert len([c for _, c in bot.cards() if "Containment summary" in texts(c)]) == 1

    assert await worker.run_once() == 0  # the empty round that follows posts no second summary
    assert len([c for _, c in bot.cards() if "Containment summary" in texts(c)]) == 1
