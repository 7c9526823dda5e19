"""Cards stay under Teams' message size limit on every path: each builder's worst case fits its budget,
the budget leaves room for the activity around the card, and the last-resort reduction keeps a valid,
working card."""

from __future__ import annotations

import json
from typing import Any

from cards import fit
from cards.common import SIZE_BUDGET, size_of
from dialogs.outbox import MESSAGE_LIMIT_UTF16_BYTES
from tests.cards.samples import rendered
from tests.cards.test_validity import schema_errors
from tests.cards.walk import executes, nodes

CARDS = rendered()
# A generous activity envelope as Teams sees it: long channel-thread and user ids, names, the service URL,
# the reply-to id and a line of text, all around the card.
ENVELOPE = {
    "type": "message", "serviceUrl": "https://smba.trafficmanager.net/emea/" + "t" * 36 + "/",
    "channelId": "msteams", "replyToId": "1" * 13, "text": "x" * 200,
    "from": {"id": "28:" + "b" * 36, "name": "Contain"},
    "recipient": {"id": "29:" + "r" * 140, "name": "A" * 120, "aadObjectId": "a" * 36},
    "conversation": {"id": "19:" + "c" * 64 + "@thread.tacv2;messageid=" + "1" * 13, "conversationType": "channel",
                     "tenantId": "t" * 36, "isGroup": True},
    "channelData": {"tenant": {"id": "t" * 36}}, "locale": "en-US", "inputHint": "acceptingInput",
}


def _activity_size(card: dict[str, Any]) -> int:
    activity = {**ENVELOPE, "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                             "content": card}]}
    return 2 * len(json.dumps(activity))  # UTF-16 of the JSON as msrest sends it (non-ASCII escaped)


def test_the_budget_leaves_room_for_the_activity_around_the_largest_card() -> None:
    largest = max((card for _, card in CARDS), key=size_of)
    assert size_of(largest) <= SIZE_BUDGET
    padded = {**largest, "fallbackText": largest.get("fallbackText", "") + "p" * (SIZE_BUDGET - size_of(largest))}
    assert size_of(padded) == SIZE_BUDGET
    assert _activity_size(padded) <= MESSAGE_LIMIT_UTF16_BYTES


def test_a_card_that_fits_is_left_alone() -> None:
    _, card = CARDS[0]
    assert fit.shrink(card, lambda c: True) is card


def test_an_oversized_card_is_reduced_to_a_valid_working_card() -> None:
    name, card = max(CARDS, key=lambda c: size_of(c[1]))
    target = 6_000
    small = fit.shrink(card, lambda c: size_of(c) <= target)
    assert size_of(small) <= target < size_of(card), name
    assert schema_errors(small) == []
    # The banner, every input and every button (with its data) are kept; the card says it was shortened.
    assert small["body"][0] == card["body"][0] and small["body"][0].get("id") == "contain-banner"
    inputs = [n.get("id") for n in nodes(card) if str(n.get("type", "")).startswith("Input.")]
    assert [n.get("id") for n in nodes(small) if str(n.get("type", "")).startswith("Input.")] == inputs
    assert [(a["verb"], a["data"]) for a in executes(small)] == [(a["verb"], a["data"]) for a in executes(card)]
    assert any(n.get("text") == fit.SHORTENED for n in nodes(small))
    assert card != small and size_of(card) > target  # the original is not changed


def test_texts_shrink_before_anything_is_dropped() -> None:
    card = {"type": "AdaptiveCard", "version": "1.5", "body": [
        {"type": "TextBlock", "text": "Title"},
        {"type": "TextBlock", "text": "é" * 2000},
        {"type": "FactSet", "facts": [{"title": "t" * 900, "value": "v" * 900}]},
    ]}
    small = fit.shrink(card, lambda c: size_of(c) <= 3_000)
    assert [e["type"] for e in small["body"]] == ["TextBlock", "TextBlock", "FactSet"]
    assert small["body"][1]["text"].endswith("…") and len(small["body"][2]["facts"][0]["value"]) <= 300
