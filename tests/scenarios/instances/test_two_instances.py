"""Two instances behind one PostgreSQL database serve one conversation interchangeably: the incident
opened at one, confirmed at the other, run at the first, approved at the second (and the approval
delivered to both at once, as a Teams redelivery could), and every action applied to the tenant exactly
once, counted from the sandbox's own write log. The card both instances update is the one card posted."""

from __future__ import annotations

import asyncio

from services.store import audit
from services.store import requests as request_repo
from services.store.records import RequestState
from tests.scenarios.instances.conftest import Pair
from tests.scenarios.instances.ledger import tally
from tests.support.flowbot import THREAD, action, open_incident, texts
from tests.support.people import DAVE, ERIN

ALICE_ID = "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"
STANDARD = ["revoke_sessions", "confirm_compromised", "remove_forwarding", "enable_mailbox_audit"]
HIGH = ["block_signin"]


async def test_confirm_at_one_instance_approve_at_the_other_each_action_runs_once(pair: Pair) -> None:
    a, b = pair.a, pair.b
    incident = await open_incident(a, "alice", ALICE_ID)

    # B answers in the same thread about the incident A opened: both read it from the database.
    status, _ = await b.say("/compromised status alice", user=ERIN)
    assert status == 200
    assert any(incident.id in str(card) for _, card in a.cards()[1:]), "B showed the incident A opened"

    toggles = {f"act_{x}": "true" for x in STANDARD + HIGH}
    status, body = await b.click("contain.confirm", {"incident": incident.id, **toggles}, user=DAVE,
                                 card_id=incident.card_activity_id)
    assert status == 200
    run_data = action(body["value"], "contain.run")["data"]
    status, _ = await a.click("contain.run", {**run_data, "reason": "two instances"}, user=DAVE,
                              card_id=incident.card_activity_id)
    assert status == 200
    await pair.settle()
    assert tally(pair.sandbox.write_log, [(ALICE_ID, x) for x in STANDARD])["lost"] == []

    awaiting = a.updates()[-1]
    approve = action(awaiting, "contain.approve")["data"]
    # The same approval reaches both instances at once (Teams retrying against another instance).
    click = a.invoke("contain.approve", approve, user=ERIN, card_id=incident.card_activity_id)
    answers = await asyncio.gather(a.post(click), b.post(click))
    assert all(status == 200 for status, _ in answers)
    # Both workers race for what the approval released.
    await asyncio.gather(a.flows.worker.run_once(), b.flows.worker.run_once(), a.flows.worker.run_once())
    await pair.settle()

    counted = tally(pair.sandbox.write_log, [(ALICE_ID, x) for x in STANDARD + HIGH])
    assert counted["lost"] == [] and counted["duplicated"] == [] and counted["applied"] == 5
    reqs = await request_repo.for_incident(a.store, incident_id=incident.id)
    assert sorted(r.action for r in reqs) == sorted(STANDARD + HIGH)
    assert {r.state for r in reqs} == {RequestState.SUCCEEDED}

    updates = pair.connector.updates[THREAD]
    assert updates and all(u["id"] == incident.card_activity_id for u in updates)
    final = texts(a.updates()[-1])
    assert "Containment finished" in final and final.count("succeeded · verified") == 5
    assert "running" not in final.lower() and "queued" not in final.lower()

    events = await a.audit_events()
    assert events.count("request.approved") == 1, "one approval was recorded, the duplicate refused"
    checked = await audit.verify(b.store)
    assert checked.ok, checked.message
