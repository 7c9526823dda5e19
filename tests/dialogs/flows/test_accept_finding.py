"""A finding no action addresses (Alan has no MFA) leaves the incident "partly contained" on the card; a
responder accepts it with a reason from the card, the decision is audited, and the card says contained."""

from __future__ import annotations

from services.store import audit
from services.store import incidents as incident_repo
from services.store.records import IncidentStatus
from tests.support.flowbot import THREAD, FlowBot, open_incident, run, texts
from tests.support.people import ERIN

ALAN_ID = "a1a4e7f9-7192-43b4-9f60-2b4c5d7e9fb7"


def _accept_form(card: dict) -> dict:  # type: ignore[type-arg]
    [show] = [a for a in card.get("actions") or () if a.get("title") == "Accept a finding"]
    return show["card"]  # type: ignore[no-any-return]


async def test_an_open_finding_is_accepted_with_a_reason_and_the_incident_is_contained(bot: FlowBot) -> None:
    incident = await open_incident(bot, "alan", ALAN_ID)
    assert "Findings need attention" in texts(bot.cards()[-1][1])
    await run(bot, incident, ["revoke_sessions"])
    done = bot.updates(THREAD)[-1]
    assert "Partly contained: 1 finding open." in texts(done)
    form = _accept_form(done)
    [choice] = [i for i in form["body"] if i["type"] == "Input.ChoiceSet"]
    key = choice["choices"][0]["value"]
    accept = form["actions"][0]
    assert accept["verb"] == "contain.accept" and accept["data"] == {"incident": incident.id}

    status, body = await bot.click("contain.accept", {**accept["data"], "finding": key, "accept_reason": " "},
                                   user=ERIN, card_id=incident.card_activity_id)
    assert status == 200 and "Give a reason" in texts(body["value"])
    still = await incident_repo.get(bot.store, incident_id=incident.id)
    assert still is not None and still.status is IncidentStatus.OPEN

    status, body = await bot.click("contain.accept", {**accept["data"], "finding": key,
                                                      "accept_reason": "Owner enrols MFA at the desk today."},
                                   user=ERIN, card_id=incident.card_activity_id)
    assert status == 200 and "Contained: every finding addressed (1 accepted by a responder)." in texts(body["value"])
    contained = await incident_repo.get(bot.store, incident_id=incident.id)
    assert contained is not None and contained.status is IncidentStatus.CONTAINED
    rows = await audit.recent(bot.store, incident_id=incident.id, limit=100)
    [row] = [r for r in rows if r.event == "finding.accepted"]
    assert row.actor_id == ERIN["aadObjectId"] and "enrols MFA" in row.detail
    assert any("accepted a finding" in t for t in bot.connector.texts(THREAD))
