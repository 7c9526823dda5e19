"""An instance dies in the middle of an action: its write landed but it never recorded the result. The
request's lease runs out and the other instance resumes it, reading first (no second write); the card
the first instance posted is brought up to date by the other one; and an instance that starts reports
in the thread what was in flight, then how it ended and whether the read-back verified it."""

from __future__ import annotations

from pathlib import Path

from services import approvals
from services.actions import engine
from services.store import audit
from services.store import requests as request_repo
from services.store.records import ActionRequest, RequestState
from services.vocabulary import Actor
from tests.scenarios.instances.conftest import Pair
from tests.scenarios.instances.ledger import tally
from tests.support.flowbot import THREAD, FlowBot, open_incident, texts

ALICE_ID = "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"
DAVE = Actor("da7e6b1c-4e6f-4081-ac3d-9e1f2a4b6c84", "Dave Patel")


async def _yes(_: str) -> bool:
    return True


async def _dies_mid_action(bot: FlowBot, incident_id: str, action: str, *, worker_id: str,
                           lease_s: float) -> ActionRequest:
    """Confirm `action`, claim it as `worker_id`, let its write land, and never finish or renew the lease."""
    outcome = await approvals.confirm(bot.store, incident_id=incident_id, actions=[action], actor=DAVE,
                                      reason="chaos", is_responder=_yes)
    assert outcome.ok, outcome.message
    [req] = await approvals.claim(bot.store, worker_id=worker_id, lease_s=lease_s, limit=1)
    # Run by a worker that does not hold the lease: the write lands, the result is not recorded.
    await engine.run_claimed([req], tenant=bot.runtime.tenant, writer=bot.runtime.writer, store=bot.store,
                             worker_id=f"{worker_id}-gone")
    return req


async def test_a_dead_workers_request_is_resumed_by_the_other_instance_without_a_second_write(pair: Pair) -> None:
    a, b = pair.a, pair.b
    for bot in (a, b):
        await bot.flows.worker.stop()  # rounds are driven by hand below; claims stay exclusive either way
    incident = await open_incident(a, "alice", ALICE_ID)
    req = await _dies_mid_action(a, incident.id, "revoke_sessions", worker_id="inst-dead/1-x", lease_s=0.05)
    assert tally(pair.sandbox.write_log, [(ALICE_ID, "revoke_sessions")])["applied"] == 1
    updates_before = len(pair.connector.updates[THREAD])

    ran = 0
    while not ran:  # the lease is 50 ms; until it runs out nobody may take the request
        ran = await b.flows.worker.run_once()
    after = await request_repo.get(b.store, request_id=req.id)
    assert after is not None and after.state is RequestState.SUCCEEDED and after.attempts == 2
    assert (after.result or {}).get("verified") is True
    assert "Resumed after an instance stopped; verified: yes." in (after.result or {}).get("detail", "")

    counted = tally(pair.sandbox.write_log, [(ALICE_ID, "revoke_sessions")])
    assert counted["duplicated"] == [] and counted["lost"] == []
    # B brought the card A posted up to date, from what the store keeps (reference and activity id).
    fresh = pair.connector.updates[THREAD][updates_before:]
    assert fresh and all(u["id"] == incident.card_activity_id for u in fresh)
    assert "succeeded · verified" in texts(fresh[-1]["attachments"][0]["content"])
    assert "request.resumed" in await b.audit_events()
    assert (await audit.verify(a.store)).ok


async def test_a_restarted_instance_resumes_at_once_and_reports_in_the_thread(pair: Pair, tmp_path: Path) -> None:
    incident = await open_incident(pair.a, "alice", ALICE_ID)
    c = await pair.start_instance(tmp_path / "c")
    name = c.parts.recovery.instance.name
    await c.close()
    for bot in (pair.a, pair.b):
        await bot.flows.worker.stop()  # only the restarted instance may resume: its lease has not run out
    # C's previous process was confirming the compromise with a minute of lease left when it was killed.
    req = await _dies_mid_action(pair.a, incident.id, "confirm_compromised", worker_id=f"{name}/4242-wdead",
                                 lease_s=60)
    before = await approvals.in_flight_after_crash(pair.a.store)
    assert before == [], "the lease is still running: nobody else would take it over for a minute"

    c = await pair.start_instance(tmp_path / "c")
    try:
        assert c.parts.recovery.instance.name == name
        await pair.connector.wait_for(lambda rc: any(t.startswith("Resumed after an instance stopped")
                                                     for t in rc.texts(THREAD)), timeout_s=15)
    finally:
        await c.close()
    said = pair.connector.texts(THREAD)
    [announced] = [t for t in said if t.startswith("An instance of Contain stopped")]
    assert "Confirm compromised" in announced and "alice@contoso.com" in announced
    [outcome] = [t for t in said if t.startswith("Resumed after an instance stopped")]
    assert outcome == "Resumed after an instance stopped: Confirm compromised succeeded; verified: yes."
    done = await request_repo.get(pair.a.store, request_id=req.id)
    assert done is not None and done.state is RequestState.SUCCEEDED and done.lease_owner is None
    counted = tally(pair.sandbox.write_log, [(ALICE_ID, "confirm_compromised")])
    assert counted["duplicated"] == [] and counted["lost"] == []


async def test_a_second_process_on_the_same_home_never_cuts_a_live_lease_short(pair: Pair, tmp_path: Path) -> None:
    from dialogs.flows.recovery import InstanceName

    first = InstanceName.take(tmp_path / "shared")
    second = InstanceName.take(tmp_path / "shared")
    try:
        assert first.durable and not second.durable and second.name != first.name
    finally:
        first.release()
        second.release()
    again = InstanceName.take(tmp_path / "shared")
    assert again.durable and again.name == first.name
    again.release()
