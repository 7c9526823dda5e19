"""A forged click is found however many incidents the store holds: the incident of the clicked card is
one indexed lookup (services.store.incidents.by_card), not a scan of the most recent incidents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from services.store import audit
from services.store import incidents as incident_repo
from services.store import requests as request_repo
from services.store.db import utcnow
from services.store.records import IncidentSource, RequestState
from services.vocabulary import Actor, UserRef
from tests.support.connector import RecordingConnector
from tests.support.flowbot import FlowBot, open_incident, run
from tests.support.people import ALICE, CAROL, ERIN

FILLER = 205  # more than the 200 incidents the old scan looked at


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[FlowBot]:
    connector = await RecordingConnector().start()
    harness = await FlowBot.start(tmp_path, connector)
    yield harness
    await harness.close()
    await connector.stop()


async def test_a_forged_approve_from_incident_201_is_refused(bot: FlowBot) -> None:
    alice = await open_incident(bot, "alice", ALICE["aadObjectId"])
    # Many incidents opened after Alice's: hers is no longer among the most recent 200.
    later = utcnow() + timedelta(seconds=1)
    for i in range(FILLER):
        await incident_repo.open_incident(
            bot.store, target=UserRef(f"00000000-0000-0000-0000-{i:012d}", f"user{i}@contoso.com", f"User {i}"),
            source=IncidentSource.ALERT, opened_by=Actor("system", "test"), now=later + timedelta(milliseconds=i))
    carol = await open_incident(bot, "carol", CAROL["aadObjectId"])
    batch = await run(bot, carol, ["revoke_sessions"])  # Carol is an admin: it waits for a second responder
    recent = await incident_repo.list_incidents(bot.store, limit=200)
    assert alice.id not in {i.id for i in recent}

    status, body = await bot.click("contain.approve", {"batch": batch}, user=ERIN, card_id=alice.card_activity_id)

    assert status == 200 and "does not belong" in str(body)
    assert {r.state for r in await request_repo.for_batch(bot.store, batch_id=batch)} == {
        RequestState.AWAITING_APPROVAL}
    assert "card.refused" in [e.event for e in await audit.recent(bot.store, limit=20)]
