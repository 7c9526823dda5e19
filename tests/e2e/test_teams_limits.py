"""Teams' limits on the Playground path: the guard `make demo` puts in front of each Playground refuses
what Teams refuses, and Contain's posts still arrive in the Playground: a throttled chat is waited out,
an incident card over the size limit comes reduced."""

from __future__ import annotations

import time

from sandbox.teams_connector import MESSAGE_LIMIT_UTF16_BYTES
from tests.e2e.conftest import Stack

ALICE = "alice@contoso.com"


def test_the_guard_holds_the_playground_to_teams_limits(stack: Stack) -> None:
    guards = stack.guards
    assert len(guards) == 2 and all(g.limits.size_limit == MESSAGE_LIMIT_UTF16_BYTES for g in guards)


async def test_a_throttled_chat_gets_its_answer_after_retry_after(stack: Stack) -> None:
    dave_guard = stack.guards[0]
    await stack.dave.say("/compromised help")
    first = await stack.dave.wait_for(lambda m: m.card is not None, "the help card")
    conversation = next(iter(dave_guard.limits.calls))
    dave_guard.limits.hold(conversation, 1.5)
    started = time.monotonic()
    seen = len(stack.dave.order)
    await stack.dave.say("/compromised help")
    again = await stack.dave.wait_for(lambda m: m.card is not None, "the second help card", after=seen)
    assert again.id != first.id and time.monotonic() - started >= 1.0
    assert (429, conversation) in dave_guard.limits.refused


async def test_an_incident_card_over_the_limit_reaches_the_playground_reduced(stack: Stack) -> None:
    state = stack.runtime.sandbox.state
    mailbox = state.mailbox(state.find_user(ALICE)["id"])
    template = mailbox["inboxRules"][0]
    for i in range(40):
        mailbox["inboxRules"].append({
            **template, "id": f"AQAAAKT6{i:04d}=", "ruleIdentity": str(9_000_000_000_000_000_000 + i),
            "name": f"Forward everything to the archive number {i} " + "x" * 150, "priority": 10 + i,
            "actions": {"forwardTo": [f"drop{i}-{'y' * 60}@exfil.example"], "stopProcessingRules": False}})
    await stack.dave.say("/compromised alice")
    card = await stack.dave.wait_for(lambda m: "Possible account compromise" in m.texts, "the incident card")
    assert any(t.endswith("not shown (card size limit).") for t in card.texts)
    assert all(status != 413 for status, _ in stack.guards[0].limits.refused)
