"""Issue 7's acceptance, through the Microsoft 365 Agents Playground itself (its own HTTP API and
websocket, no browser): Dave asks about alice, keeps the recommended actions and confirms; Erin, in her
own Playground, approves the high-impact ones; Dave's card ends with every action succeeded and
verified, the summary with Secure Score arrives in his chat, and a fresh look at alice shows none of the
findings those actions address."""

from __future__ import annotations

import re

from cards.incident import ATTENTION_TITLE, CLEAN_TITLE, COMPROMISE_TITLE
from services.findings.investigation import investigate_query
from services.vocabulary import Investigation
from tests.e2e.client import Message, card_inputs
from tests.e2e.conftest import Stack

VERIFIED = "✓ succeeded · verified"


def is_incident_card(message: Message) -> bool:
    # The title follows the findings: a fresh incident after containment shows what is left (no MFA: medium).
    return any(title in message.texts for title in (COMPROMISE_TITLE, ATTENTION_TITLE, CLEAN_TITLE))


async def test_contain_alice_through_the_playground(stack: Stack) -> None:
    dave, erin = stack.dave, stack.erin
    before = await investigate_query(tenant=stack.runtime.tenant, query="alice")
    assert isinstance(before, Investigation) and before.recommended_actions

    # Dave: /compromised alice → the incident card, every finding on it, the recommended actions preselected.
    await dave.say("/compromised alice")
    incident = await dave.wait_for(is_incident_card, "the incident card")
    shown = "\n".join(incident.texts)
    for finding in before.findings:
        assert finding.title in shown
    toggles = card_inputs(incident.card or {})
    preselected = {key.removeprefix("act_") for key, value in toggles.items() if value == "true"}
    assert preselected == {action.value for action in before.recommended_actions}

    # Contain selected → the confirm card; Run with a reason → answered at once, then updated in place.
    confirm = await dave.click(incident, "Contain selected")
    assert "Confirm containment" in dave.messages[incident.id].texts, confirm
    await dave.click(dave.messages[incident.id], "Run", reason="Impossible travel and a forwarding rule")
    await dave.wait_for(lambda m: m.id == incident.id and "Waiting for a second responder" in m.texts,
                        "the awaiting-approval card in place of the incident card")

    # Erin, in her own Playground, opens the request and approves it.
    await erin.say("/compromised status alice")
    pending = await erin.wait_for(lambda m: m.card is not None and "Waiting for a second responder" in m.texts,
                                  "the awaiting-approval card")
    await erin.click(pending, "Approve")

    # Dave's card, updated in place: every chosen action succeeded and verified.
    done = await dave.wait_for(lambda m: m.id == incident.id and "Containment finished" in m.texts,
                               "the finished card", timeout_s=30)
    assert done.texts.count(VERIFIED) == len(before.recommended_actions), done.texts
    assert not [t for t in done.texts if "failed" in t or "not yet visible" in t]
    assert done.versions > 3  # it moved through running and waiting states on the same message

    # The summary with Secure Score in Dave's chat; the temporary password only as a private message to him.
    summary = await dave.wait_for(lambda m: m.card is not None and "Secure Score" in m.texts, "the summary",
                                  timeout_s=30)
    assert re.search(r"\d+(\.\d+)? / \d+(\.\d+)? \(\d+ %\)", summary.joined), summary.texts
    password_note = await dave.wait_for(lambda m: m.text.startswith("Temporary password for alice"),
                                        "the temporary password")
    password = password_note.text.split(": ", 1)[1].split()[0]
    assert password_note.card is None and len(password) >= 12
    everything_else = [m.joined for m in dave.messages.values() if m.id != password_note.id]
    everything_else += [m.joined for m in erin.messages.values()]
    assert not [text for text in everything_else if password in text]

    # /compromised alice again: the open incident is pointed to; a new one shows none of the addressed findings.
    seen = len(dave.order)
    await dave.say("/compromised alice")
    pointer = await dave.wait_for(lambda m: m.card is not None and "Open a new incident" in
                                  [a.get("title") for a in (m.card or {}).get("actions", [])],
                                  "the pointer to the open incident", after=seen)
    await dave.click(pointer, "Open a new incident")
    again = await dave.wait_for(is_incident_card, "a fresh incident card", after=seen)
    chosen = set(before.recommended_actions)
    addressed = [f for f in before.findings if chosen.intersection(f.actions)]
    assert addressed
    for finding in addressed:
        assert finding.title not in "\n".join(again.texts)
    after = await investigate_query(tenant=stack.runtime.tenant, query="alice")
    assert isinstance(after, Investigation)
    assert not {f.kind for f in addressed} & {f.kind for f in after.findings}
