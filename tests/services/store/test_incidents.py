import asyncio
from datetime import UTC, datetime, timedelta

from services.store import audit, incidents
from services.store.db import Store
from services.store.records import IncidentStatus
from tests.services.store.helpers import ALICE, CAROL, DANA, EVAN, open_incident


async def test_open_incident_records_who_and_audits(store: Store) -> None:
    cutoff = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    opened = await incidents.open_incident(store, target=ALICE, source="alert", opened_by=DANA,
                                           investigation={"findings": [], "isAdmin": False}, cutoff=cutoff)
    inc = opened.incident
    assert opened.created and inc.id.startswith("inc_") and len(inc.id) == 14
    assert (inc.status, inc.source.value, inc.target_upn, inc.opened_by_name) == (
        IncidentStatus.OPEN, "alert", "alice@contoso.com", "Dana Responder")
    assert inc.cutoff == cutoff and inc.opened_at.tzinfo is not None
    rows = await audit.recent(store)
    assert [(r.event, r.incident_id, r.actor_id) for r in rows] == [("incident.opened", inc.id, DANA.id)]


async def test_one_open_incident_per_account_even_when_opened_concurrently(store: Store, second_store: Store) -> None:
    results = await asyncio.gather(*(
        incidents.open_incident(s, target=ALICE, source="alert", opened_by=DANA)
        for s in (store, second_store) * 5))
    assert len({r.incident.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    other = await open_incident(store, CAROL)
    assert other.id != results[0].incident.id


async def test_closing_frees_the_account_and_takes_no_more_actions(store: Store) -> None:
    first = await open_incident(store)
    closed = await incidents.close(store, incident_id=first.id, actor=EVAN, reason="False positive\x07")
    assert closed is not None and closed.status is IncidentStatus.CLOSED
    assert (closed.closed_by_id, closed.close_reason) == (EVAN.id, "False positive")
    assert await incidents.close(store, incident_id=first.id, actor=EVAN, reason="again") is None
    assert await incidents.find_open(store, target_user_id=ALICE.id) is None
    second = await open_incident(store)
    assert second.id != first.id
    assert (await incidents.find_open(store, target_user_id=ALICE.id)).id == second.id  # type: ignore[union-attr]


async def test_the_card_location_is_kept_for_updates_in_place(store: Store) -> None:
    inc = await open_incident(store)
    ref = {"conversation": {"id": "19:abc@thread.tacv2"}, "serviceUrl": "https://smba.example/"}
    assert await incidents.set_card(store, incident_id=inc.id, conversation_ref=ref,
                                    conversation_id="19:abc@thread.tacv2;messageid=1", card_activity_id="1:act")
    again = await incidents.get(store, incident_id=inc.id)
    assert again is not None
    assert (again.conversation_ref, again.card_activity_id) == (ref, "1:act")
    assert not await incidents.set_card(store, incident_id="inc_missing000", card_activity_id="x")


async def test_investigation_is_stored_without_secrets(store: Store) -> None:
    inc = await open_incident(store)
    later = inc.opened_at + timedelta(minutes=1)
    await incidents.set_investigation(store, incident_id=inc.id, target_is_admin=True, now=later,
                                      investigation={"user": {"id": ALICE.id}, "accessToken": "eyJ0eXAi.abc.def",
                                                     "lastPasswordChangeDateTime": "2024-05-01T00:00:00Z"})
    again = await incidents.get(store, incident_id=inc.id)
    assert again is not None and again.target_is_admin and again.updated_at == later
    assert again.investigation == {"user": {"id": ALICE.id}, "accessToken": "[redacted]",
                                   "lastPasswordChangeDateTime": "2024-05-01T00:00:00Z"}
