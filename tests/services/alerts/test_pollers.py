"""The Identity Protection and Defender pollers: cursor across restarts, thread reuse, the AlertPoller."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import open_store
from services.alerts.intake import Decision, IntakeResult, IntakeStatus
from services.alerts.poll import AlertPoller, Cursor, load_cursor, poll_defender_alerts, poll_risky_users
from services.runtime import Runtime
from services.store import alerts as alert_store
from services.store import cursors, incidents
from services.store.db import Store


def poller(rt: Runtime, store: Store | None = None, **kw: Any) -> AlertPoller:
    return AlertPoller(store=store or rt.store, tenant=rt.tenant, interval_s=0.2, min_risk="medium", **kw)


async def test_a_fresh_install_does_not_replay_old_detections(runtime: Runtime) -> None:
    # The fixture already has alice at high risk and a Defender alert: history, not news.
    assert await poller(runtime).run_once() == []


async def test_the_cursor_survives_a_restart_without_missing_or_repeating(runtime: Runtime,
                                                                          raise_alert: Callable[..., Any]) -> None:
    assert await poller(runtime).run_once() == []
    await raise_alert("bob", kind="risky_user", severity="high")
    await raise_alert("carol", kind="defender")

    first = await poller(runtime, investigate=False).run_once()
    assert sorted((r.source, r.decision.value) for r in first) == [("defender", "new_thread"),
                                                                  ("identity_protection", "new_thread")]

    # A restart: a new poller over a reopened database sees the persisted cursor.
    reopened = await open_store(runtime.settings.database_url)
    try:
        assert await poller(runtime, reopened, investigate=False).run_once() == []
        await raise_alert("bob", kind="defender")
        again = await poller(runtime, reopened, investigate=False).run_once()
    finally:
        await reopened.close()
    assert [(r.source, r.decision) for r in again] == [("defender", Decision.REPLY)]
    bob_incident = next(r.incident_id for r in first if r.source == "identity_protection")
    assert again[0].incident_id == bob_incident
    history = await alert_store.for_incident(runtime.store, incident_id=bob_incident or "")
    assert [a.source for a in history] == ["identity_protection", "defender"]


async def test_alerts_sharing_a_timestamp_are_each_handed_on_once(runtime: Runtime,
                                                                  raise_alert: Callable[..., Any]) -> None:
    await poller(runtime).run_once()
    a = await raise_alert("bob", kind="defender")
    assert len(await poll_defender_alerts(store=runtime.store, tenant=runtime.tenant, investigate=False)) == 1
    b = await raise_alert("carol", kind="defender")
    # Make the second alert carry exactly the first one's time, as a busy detector would.
    stored = next(x for x in runtime.sandbox.state.data["alerts"] if x["id"] == b["id"])
    stored["createdDateTime"] = a["createdDateTime"]
    later = await poll_defender_alerts(store=runtime.store, tenant=runtime.tenant, investigate=False)
    assert [r.alert_id for r in later] == [b["id"]]
    assert await poll_defender_alerts(store=runtime.store, tenant=runtime.tenant, investigate=False) == []


async def test_a_late_alert_inside_the_overlap_window_is_not_missed(runtime: Runtime,
                                                                    raise_alert: Callable[..., Any]) -> None:
    # A cursor that has been running for a while (the first poll looked back an hour).
    await poll_defender_alerts(store=runtime.store, tenant=runtime.tenant, investigate=False,
                               initial_lookback=timedelta(hours=1))
    await raise_alert("bob", kind="defender")
    assert len(await poll_defender_alerts(store=runtime.store, tenant=runtime.tenant, investigate=False)) == 1
    late = await raise_alert("carol", kind="defender")
    # Visible only now, but stamped two minutes before the cursor.
    stored = next(x for x in runtime.sandbox.state.data["alerts"] if x["id"] == late["id"])
    stored["createdDateTime"] = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    found = await poll_defender_alerts(store=runtime.store, tenant=runtime.tenant, investigate=False)
    assert [r.alert_id for r in found] == [late["id"]]


async def test_risk_below_the_configured_level_is_ignored(runtime: Runtime, raise_alert: Callable[..., Any]) -> None:
    await poll_risky_users(store=runtime.store, tenant=runtime.tenant, min_risk="medium")
    await raise_alert("bob", kind="risky_user", severity="low")
    assert await poll_risky_users(store=runtime.store, tenant=runtime.tenant, min_risk="medium") == []
    await raise_alert("carol", kind="risky_user", severity="medium")
    found = await poll_risky_users(store=runtime.store, tenant=runtime.tenant, min_risk="medium", investigate=False)
    assert [r.incident.target_upn for r in found if r.incident] == ["carol@contoso.com"]


async def test_a_new_risk_detection_for_the_same_user_is_a_new_alert(runtime: Runtime,
                                                                     raise_alert: Callable[..., Any]) -> None:
    await poll_risky_users(store=runtime.store, tenant=runtime.tenant, min_risk="low")
    one = await raise_alert("bob", kind="risky_user", severity="medium")
    first = await poll_risky_users(store=runtime.store, tenant=runtime.tenant, min_risk="low", investigate=False)
    risky = next(r for r in runtime.sandbox.state.data["riskyUsers"] if r["userPrincipalName"] == "bob@contoso.com")
    risky["riskLastUpdatedDateTime"] = (datetime.fromisoformat(one["riskLastUpdatedDateTime"].replace("Z", "+00:00"))
                                        + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    second = await poll_risky_users(store=runtime.store, tenant=runtime.tenant, min_risk="low", investigate=False)
    assert [r.decision for r in first + second] == [Decision.NEW_THREAD, Decision.REPLY]
    assert first[0].alert_id != second[0].alert_id and second[0].alert_id.startswith(risky["id"] + ":")


async def test_the_poller_hands_new_threads_to_the_bot_with_the_investigation(
        runtime: Runtime, raise_alert: Callable[..., Any]) -> None:
    posted: list[IntakeResult] = []

    async def on_result(result: IntakeResult) -> None:
        posted.append(result)

    p = poller(runtime, on_result=on_result)
    await p.run_once()
    await raise_alert("alice", kind="defender")
    await raise_alert("alice", kind="risky_user", severity="high")
    results = await p.run_once()
    assert [r.decision for r in posted] == [Decision.NEW_THREAD, Decision.REPLY]
    assert posted == results and {r.incident_id for r in posted} == {results[0].incident_id}
    assert results[0].investigation is not None
    assert {f.kind.value for f in results[0].investigation.findings} >= {"risky_user", "mailbox_forwarding"}
    incident = await incidents.get(runtime.store, incident_id=results[0].incident_id or "")
    assert incident is not None and incident.investigation is not None


async def test_start_runs_rounds_until_stopped_and_survives_a_failing_callback(
        runtime: Runtime, raise_alert: Callable[..., Any]) -> None:
    seen = asyncio.Event()
    calls: list[str] = []

    async def on_result(result: IntakeResult) -> None:
        calls.append(result.alert_id)
        seen.set()
        raise RuntimeError("the bot could not post")

    p = poller(runtime, on_result=on_result, investigate=False)
    await p.run_once()
    p.start()
    try:
        await raise_alert("bob", kind="defender")
        await asyncio.wait_for(seen.wait(), timeout=10)
        assert p.running
    finally:
        await p.stop()
    assert not p.running and len(calls) == 1


async def test_one_failing_source_does_not_stop_the_other(runtime: Runtime, raise_alert: Callable[..., Any]) -> None:
    p = poller(runtime, investigate=False)
    await p.run_once()
    # The app registration loses the risky-user permission: that source answers 403.
    app = runtime.sandbox.state.app(runtime.endpoints.client_id)
    app["permissions"] = [p for p in app["permissions"] if not p.startswith("IdentityRiskyUser.")]
    await raise_alert("bob", kind="defender")
    results = await p.run_once()
    assert [r.status for r in results] == [IntakeStatus.ACCEPTED]
    assert "identity_protection" in p.last_errors and "defender" not in p.last_errors


def test_the_cursor_forgets_ids_older_than_the_overlap() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    cursor = Cursor(at=t0, floor=t0)
    cursor.mark("old", t0 + timedelta(minutes=1))
    cursor.mark("a", t0 + timedelta(minutes=30))
    cursor.mark("b", t0 + timedelta(minutes=30))
    again = Cursor.from_json(cursor.to_json(timedelta(minutes=10)))
    assert (again.at, set(again.seen), again.floor) == (t0 + timedelta(minutes=30), {"a", "b"}, t0)
    assert again.since(timedelta(minutes=10)) == t0 + timedelta(minutes=20)


async def test_an_unreadable_cursor_starts_again_from_now(runtime: Runtime) -> None:
    await cursors.put(runtime.store, name="alerts.defender", value="{not json")
    now = datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)
    cursor = await load_cursor(runtime.store, name="alerts.defender", now=now, initial_lookback=timedelta(0))
    assert cursor.at == cursor.floor == datetime(2026, 1, 1, 11, 59, 59, tzinfo=UTC) and cursor.seen == {}
