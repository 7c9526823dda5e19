"""POST /api/alerts deliveries through accept_webhook against the real store and sandbox tenant."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from services.alerts.intake import REPLAY_STATUS, Decision, IntakeStatus, accept_webhook, describe
from services.alerts.webhook import MAX_BODY_BYTES, WebhookRefused
from services.runtime import Runtime
from services.store import alerts as alert_store
from services.store import audit, incidents
from services.vocabulary import Actor
from tests.services.alerts.conftest import SECRET, alert_body, signed

ALICE_ID = "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"


async def deliver(rt: Runtime, headers: dict[str, str], body: bytes, *, now: float | None = None,
                  secret: str | None = SECRET, investigate: bool = True):  # type: ignore[no-untyped-def]
    return await accept_webhook(store=rt.store, tenant=rt.tenant, secret=secret, headers=headers, body=body,
                                now=now if now is not None else time.time(), investigate=investigate)


async def events(rt: Runtime, name: str) -> list[audit.AuditEntry]:  # type: ignore[name-defined]
    return [e for e in await audit.recent(rt.store, limit=500) if e.event == name]


async def test_a_good_delivery_opens_an_investigated_incident(runtime: Runtime) -> None:
    result = await deliver(runtime, *signed(alert_body("siem-1")))

    assert (result.status, result.decision) == (IntakeStatus.ACCEPTED, Decision.NEW_THREAD)
    incident = await incidents.get(runtime.store, incident_id=result.incident_id or "")
    assert incident is not None and incident.target_user_id == ALICE_ID
    assert incident.source.value == "alert" and incident.opened_by_id == "contain"
    kinds = {f["kind"] for f in (incident.investigation or {}).get("findings", [])}
    assert {"risky_user", "inbox_rule_forward", "mailbox_forwarding"} <= kinds
    assert incident.cutoff is not None  # the first suspicious sign-in, for reset_mfa
    assert result.investigation is not None and result.investigation.user.id == ALICE_ID
    history = await alert_store.for_incident(runtime.store, incident_id=incident.id)
    assert [(a.source, a.alert_id) for a in history] == [("siem", "siem-1")]
    received = await events(runtime, "alert.received")
    assert [(e.outcome, e.incident_id) for e in received] == [("new_thread", incident.id)]
    assert describe(result)["decision"] == "new_thread"


async def test_a_second_alert_for_the_account_is_a_reply_in_the_same_thread(runtime: Runtime) -> None:
    first = await deliver(runtime, *signed(alert_body("siem-1")))
    second = await deliver(runtime, *signed(alert_body("siem-2", account="Alice Wilson", severity="medium")))

    assert second.decision is Decision.REPLY and second.incident_id == first.incident_id
    history = await alert_store.for_incident(runtime.store, incident_id=first.incident_id or "")
    assert [a.alert_id for a in history] == ["siem-1", "siem-2"]


async def test_the_reply_carries_the_stored_thread(runtime: Runtime) -> None:
    first = await deliver(runtime, *signed(alert_body("siem-1")), investigate=False)
    ref = {"conversation": {"id": "19:thread@thread.tacv2"}, "serviceUrl": "http://127.0.0.1:1/"}
    await incidents.set_card(runtime.store, incident_id=first.incident_id or "", conversation_ref=ref,
                             card_activity_id="card-1")
    second = await deliver(runtime, *signed(alert_body("siem-2")), investigate=False)
    assert second.incident is not None
    assert (second.incident.conversation_ref, second.incident.card_activity_id) == (ref, "card-1")


async def test_after_the_incident_is_closed_a_new_alert_opens_a_new_thread(runtime: Runtime) -> None:
    first = await deliver(runtime, *signed(alert_body("siem-1")), investigate=False)
    await incidents.close(runtime.store, incident_id=first.incident_id or "", actor=Actor("u1", "Dana"),
                          reason="False positive.")
    again = await deliver(runtime, *signed(alert_body("siem-2")), investigate=False)
    assert again.decision is Decision.NEW_THREAD and again.incident_id != first.incident_id


async def test_the_same_alert_id_redelivered_is_recorded_once(runtime: Runtime) -> None:
    now = time.time()
    first = await deliver(runtime, *signed(alert_body("siem-1"), ts=now), investigate=False)
    # A fresh signature (new timestamp): not a replay, but the same alert.
    again = await deliver(runtime, *signed(alert_body("siem-1"), ts=now + 1), investigate=False)

    assert first.status is IntakeStatus.ACCEPTED
    assert (again.status, again.decision, again.incident_id) == (IntakeStatus.DUPLICATE, Decision.NONE, None)
    assert len(await alert_store.for_incident(runtime.store, incident_id=first.incident_id or "")) == 1
    assert len(await events(runtime, "alert.duplicate")) == 1


async def test_a_replayed_delivery_is_refused(runtime: Runtime) -> None:
    headers, body = signed(alert_body("siem-1"))
    await deliver(runtime, headers, body, investigate=False)
    with pytest.raises(WebhookRefused) as refused:
        await deliver(runtime, headers, body, investigate=False)
    assert refused.value.status == REPLAY_STATUS == 409
    assert "replay" in str(refused.value)


async def test_concurrent_replays_of_one_delivery_are_accepted_once(runtime: Runtime) -> None:
    headers, body = signed(alert_body("siem-1"))
    outcomes = await asyncio.gather(*(deliver(runtime, headers, body, investigate=False) for _ in range(10)),
                                    return_exceptions=True)
    accepted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(accepted) == 1
    assert all(isinstance(o, WebhookRefused) and o.status == 409 for o in outcomes if o not in accepted)


REFUSALS = [
    ("wrong_secret", 401, "does not match"),
    ("other_body", 401, "does not match"),
    ("stale", 401, "older than five minutes"),
    ("future", 401, "older than five minutes"),
    ("no_signature", 401, "missing"),
    ("not_json", 400, "not valid JSON"),
    ("no_account", 400, "'account'"),
    ("bad_severity", 400, "severity"),
    ("too_big", 413, "larger than"),
    ("no_secret", 503, "not configured"),
]


def tampered(tamper: str, now: float) -> tuple[dict[str, str], bytes, str | None]:
    body: dict[str, object] | bytes = alert_body("siem-1")
    ts = now
    if tamper == "not_json":
        body = b"{not json"
    elif tamper == "no_account":
        body = {k: v for k, v in alert_body("siem-1").items() if k != "account"}
    elif tamper == "bad_severity":
        body = alert_body("siem-1", severity="apocalyptic")
    elif tamper == "too_big":
        body = alert_body("siem-1", title="x" * MAX_BODY_BYTES)
    elif tamper in ("stale", "future"):
        ts = now - 301 if tamper == "stale" else now + 400
    headers, raw = signed(body, ts=ts, secret="wrong" if tamper == "wrong_secret" else SECRET)
    if tamper == "other_body":
        raw = json.dumps(alert_body("siem-1", account="carol@contoso.com")).encode()
    if tamper == "no_signature":
        del headers["X-Contain-Signature"]
    return headers, raw, None if tamper == "no_secret" else SECRET


async def test_bad_deliveries_are_refused_audited_and_change_nothing(runtime: Runtime) -> None:
    # One runtime for every case (each case alone would pay the sandbox start-up).
    now = time.time()
    for tamper, status, sentence in REFUSALS:
        headers, raw, secret = tampered(tamper, now)
        with pytest.raises(WebhookRefused) as refused:
            await deliver(runtime, headers, raw, now=now, secret=secret)
        assert (refused.value.status, sentence in str(refused.value)) == (status, True), tamper
        last = (await events(runtime, "alert.refused"))[-1]
        assert (last.outcome, last.detail) == (str(status), str(refused.value)), tamper
        assert SECRET not in last.detail and "Impossible travel" not in last.detail
    assert len(await events(runtime, "alert.refused")) == len(REFUSALS)
    assert await incidents.list_incidents(runtime.store) == []
    assert await events(runtime, "alert.received") == []


async def test_headers_are_matched_case_insensitively(runtime: Runtime) -> None:
    headers, body = signed(alert_body("siem-1"))
    lowered = {k.lower(): v for k, v in headers.items()}
    assert (await deliver(runtime, lowered, body, investigate=False)).status is IntakeStatus.ACCEPTED


async def test_an_unknown_account_is_recorded_unresolved_without_a_thread(runtime: Runtime) -> None:
    result = await deliver(runtime, *signed(alert_body("siem-9", account="nobody@contoso.com")))
    assert (result.status, result.decision, result.incident_id) == (IntakeStatus.UNRESOLVED, Decision.NONE, None)
    assert await incidents.list_incidents(runtime.store) == []
    rows = await events(runtime, "alert.unresolved")
    assert len(rows) == 1 and rows[0].target == "nobody@contoso.com"
    # Recorded all the same: a redelivery is a duplicate, not a second unresolved alert.
    again = await deliver(runtime, *signed(alert_body("siem-9", account="nobody@contoso.com"), ts=time.time() + 1))
    assert again.status is IntakeStatus.DUPLICATE


async def test_an_object_id_names_the_account(runtime: Runtime) -> None:
    result = await deliver(runtime, *signed(alert_body("siem-1", account=ALICE_ID)), investigate=False)
    assert result.incident is not None and result.incident.target_upn == "alice@contoso.com"


async def test_fifty_concurrent_deliveries_for_one_account_make_one_incident(runtime: Runtime) -> None:
    now = time.time()
    batch = [signed(alert_body(f"burst-{i}", account="bob@contoso.com"), ts=now) for i in range(50)]
    results = await asyncio.gather(*(deliver(runtime, h, b, now=now) for h, b in batch))

    assert [r.decision for r in results].count(Decision.NEW_THREAD) == 1
    assert [r.decision for r in results].count(Decision.REPLY) == 49
    assert len({r.incident_id for r in results}) == 1
    assert len(await incidents.list_incidents(runtime.store)) == 1
    history = await alert_store.for_incident(runtime.store, incident_id=results[0].incident_id or "")
    assert sorted(a.alert_id for a in history) == sorted(f"burst-{i}" for i in range(50))


async def test_concurrent_redeliveries_of_one_alert_are_recorded_once(runtime: Runtime) -> None:
    now = time.time()
    batch = [signed(alert_body("same-1"), ts=now - i) for i in range(20)]  # 20 signatures, one alert
    results = await asyncio.gather(*(deliver(runtime, h, b, now=now, investigate=False) for h, b in batch))
    assert [r.status for r in results].count(IntakeStatus.ACCEPTED) == 1
    assert [r.status for r in results].count(IntakeStatus.DUPLICATE) == 19
    assert len(await alert_store.for_incident(runtime.store, incident_id=results[0].incident_id
                                              or next(r.incident_id for r in results if r.incident_id) or "")) == 1
