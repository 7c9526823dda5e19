import asyncio
from datetime import UTC, datetime, timedelta

from services.approvals import confirm
from services.store import alerts, conversations, cursors, dedupe, snapshots
from services.store.db import Store
from services.store.scrub import REDACTED, scrub, scrub_text
from tests.services.store.helpers import DANA, open_incident

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


async def test_a_redelivered_activity_is_seen_once_even_concurrently(store: Store, second_store: Store) -> None:
    seen = await asyncio.gather(*(dedupe.seen_activity(s, activity_id="f:1234") for s in (store, second_store) * 4))
    assert sorted(seen) == [False] + [True] * 7
    assert await dedupe.seen_activity(store, activity_id="f:5678") is False


async def test_a_replayed_webhook_delivery_is_detected(store: Store) -> None:
    assert await dedupe.seen_delivery(store, signature="sha256=" + "a" * 64) is False
    assert await dedupe.seen_delivery(store, signature="sha256=" + "a" * 64) is True


async def test_prune_forgets_only_old_records(store: Store) -> None:
    await dedupe.seen_activity(store, activity_id="old", now=T0)
    await dedupe.seen_activity(store, activity_id="new", now=T0 + timedelta(days=2))
    assert await dedupe.prune(store, older_than=T0 + timedelta(days=1)) == 1
    assert await dedupe.seen_activity(store, activity_id="new") is True
    assert await dedupe.seen_activity(store, activity_id="old") is False


async def test_choices_keep_candidates_server_side_until_they_expire(store: Store) -> None:
    nonce = await dedupe.save_choice(store, query="al", candidate_ids=["u1", "u2"], created_by_id=DANA.id, now=T0)
    assert nonce.startswith("chc_") and len(nonce) > 16
    assert await dedupe.get_choice(store, nonce=nonce, now=T0 + timedelta(minutes=5)) == ("u1", "u2")
    assert await dedupe.get_choice(store, nonce=nonce, now=T0 + timedelta(minutes=16)) is None
    assert await dedupe.get_choice(store, nonce="chc_forged", now=T0) is None


async def test_alerts_are_recorded_once_per_source_and_id(store: Store) -> None:
    kw = {"account": "alice@contoso.com", "severity": "high", "title": "Risky user"}
    assert await alerts.record(store, source="identity_protection", alert_id="a1", received_at=T0, **kw)
    assert not await alerts.record(store, source="identity_protection", alert_id="a1", **kw)
    assert await alerts.record(store, source="defender", alert_id="a1", received_at=T0 + timedelta(seconds=1), **kw)
    inc = await open_incident(store)
    assert await alerts.link(store, source="identity_protection", alert_id="a1", incident_id=inc.id)
    assert await alerts.link(store, source="defender", alert_id="a1", incident_id=inc.id)
    history = await alerts.for_incident(store, incident_id=inc.id)
    assert [(a.source, a.received_at) for a in history] == [("identity_protection", T0),
                                                            ("defender", T0 + timedelta(seconds=1))]


async def test_cursors_and_conversation_references_are_upserted(store: Store) -> None:
    assert await cursors.get(store, name="alerts_v2") is None
    await cursors.put(store, name="alerts_v2", value="2024-05-01T00:00:00Z")
    await cursors.put(store, name="alerts_v2", value="2024-05-02T00:00:00Z")
    assert await cursors.get(store, name="alerts_v2") == "2024-05-02T00:00:00Z"
    await conversations.save(store, key="19:chan", kind="channel", team_id="t1", reference={"v": 1})
    await conversations.save(store, key="19:chan", kind="channel", team_id="t1", reference={"v": 2})
    await conversations.save(store, key="a:dana", kind="personal", reference={"v": 3})
    assert await conversations.get(store, key="19:chan") == {"v": 2}
    channels = await conversations.list_refs(store, kind=conversations.ConversationKind.CHANNEL)
    assert [(c["key"], c["team_id"]) for c in channels] == [("19:chan", "t1")]


async def test_snapshots_keep_state_for_undo_without_secrets(store: Store) -> None:
    inc = await open_incident(store)
    out = await confirm(store, incident_id=inc.id, actions=["disable_inbox_rules"], actor=DANA, reason="r",
                        is_responder=_yes)
    req = out.requests[0]
    rule = {"id": "AQAAA1", "displayName": "fwd", "actions": {"forwardTo": ["x@evil.example"]}}
    await snapshots.save(store, action_request_id=req.id, action=req.action,
                         data={"rules": [rule], "passwordProfile": {"password": "Hunter2!x"}}, now=T0)
    await snapshots.save(store, action_request_id=req.id, action=req.action, data={"rules": []})
    first = await snapshots.original(store, action_request_id=req.id)
    assert first is not None and first.data["rules"] == [rule] and first.taken_at == T0
    assert first.data["passwordProfile"] == {"password": REDACTED}
    assert len(await snapshots.for_request(store, action_request_id=req.id)) == 2


async def _yes(_: str) -> bool:
    return True


def test_the_scrubber_redacts_secret_keys_and_text_but_keeps_facts() -> None:
    data = {"client_secret": "abc", "refresh_token": "r", "nested": [{"Password": "p@ss"}],
            "forceChangePasswordNextSignIn": True, "lastPasswordChangeDateTime": "2024-05-01T00:00:00Z",
            "detail": "reset done, password is Tr0ub4dor&3 (give it to Alice)", "count": 3}
    assert scrub(data) == {"client_secret": REDACTED, "refresh_token": REDACTED, "nested": [{"Password": REDACTED}],
                           "forceChangePasswordNextSignIn": True,
                           "lastPasswordChangeDateTime": "2024-05-01T00:00:00Z",
                           "detail": "reset done, password is [redacted] (give it to Alice)", "count": 3}
    assert scrub_text("Sessions revoked for alice.") == "Sessions revoked for alice."
    assert scrub_text("only after the password is reset and sessions are revoked") == (
        "only after the password is reset and sessions are revoked")
