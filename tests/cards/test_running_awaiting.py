"""The running card with a batch awaiting a second responder: progress and the decision on one card, so
a second responder who opens the incident while the standard actions still run is not left without
buttons. (Schema, renderer, id-only data and size are checked for these cards with every other sample.)"""

from __future__ import annotations

from datetime import timedelta

import cards
from cards import verbs
from cards.approval import AwaitingApproval
from cards.common import SIZE_BUDGET, size_of
from cards.context import CardContext
from cards.views import ActionLine, LineState
from services.actions import catalog
from tests.cards import samples
from tests.cards.samples import HUGE, NOW, RESPONDER, A
from tests.cards.walk import executes, nodes, texts

CTX = CardContext(sandbox=True, auth_off=False, now=NOW)
WAITING = AwaitingApproval(batch_id="bat_waiting1", requested_by=RESPONDER, requested_at=NOW,
                           reason="Impossible travel", actions=(A.RESET_PASSWORD, A.UNBLOCK_SENDER),
                           expires_at=NOW + timedelta(minutes=30))


def running(awaiting: AwaitingApproval | None) -> dict[str, object]:
    return cards.running_card(CTX, incident_id="inc_1", target=samples.ALICE, lines=samples.lines(),
                              requested_by=RESPONDER, started_at=NOW, awaiting=awaiting)


def decisions(card: dict[str, object]) -> dict[str, dict[str, str]]:
    return {a["verb"]: a["data"] for a in executes(card) if a["verb"] in (verbs.APPROVE, verbs.REJECT)}


def test_running_card_alone_offers_no_decision() -> None:
    card = running(None)
    assert decisions(card) == {}
    assert "Waiting for a second responder" not in texts(card)


def test_running_card_with_a_waiting_batch_offers_approve_and_reject_for_that_batch() -> None:
    card = running(WAITING)
    assert decisions(card) == {verbs.APPROVE: {"batch": "bat_waiting1"}, verbs.REJECT: {"batch": "bat_waiting1"}}
    shown = texts(card)
    # Still the progress card: every action line and the tally are there, above the approval section.
    assert "Containing…" in shown
    for line in samples.lines():
        assert any(t.startswith(catalog.title(line.action)) for t in shown), line.action
    assert "Waiting for a second responder" in shown
    assert "Impossible travel" in shown and RESPONDER.name in shown
    section = next(n for n in nodes(card) if n.get("id") == "contain-awaiting")
    inside = texts(section)
    assert catalog.title(A.RESET_PASSWORD) in inside and catalog.title(A.UNBLOCK_SENDER) in inside
    assert "Approve" in inside and "Reject" in inside  # the buttons sit with what they decide
    # The buttons send no input values, so nothing else on the card can block them.
    assert all(a.get("associatedInputs") == "none" for a in executes(section))


def test_the_largest_hostile_incident_still_fits() -> None:
    # Every action of the vocabulary on the card with a 10 kB sentence, and every one waiting as well.
    villain = samples.Actor("aad-x", HUGE)
    every = [ActionLine(a, LineState.FAILED, detail=HUGE, requested_by=villain) for a in A]
    hostile = AwaitingApproval(batch_id="bat_waiting1", requested_by=villain, requested_at=NOW, reason=HUGE,
                               actions=tuple(A), expires_at=NOW + timedelta(minutes=30))
    card = cards.running_card(CTX, incident_id="inc_1", target=samples.HOSTILE, lines=every, requested_by=villain,
                              started_at=NOW, awaiting=hostile)
    assert size_of(card) <= SIZE_BUDGET
    assert decisions(card) == {verbs.APPROVE: {"batch": "bat_waiting1"}, verbs.REJECT: {"batch": "bat_waiting1"}}
