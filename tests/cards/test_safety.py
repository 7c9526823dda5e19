"""Cards carry ids only, stay under Teams' size limit with hostile input, and render tenant text
literally (no links, no emphasis, no bidi tricks)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cards import verbs
from cards.common import AUTH_OFF_TEXT, SANDBOX_TEXT, SIZE_BUDGET, size_of
from cards.context import CardContext
from cards.text import plain
from tests.cards import samples
from tests.cards.samples import CARDS_NOW, rendered
from tests.cards.walk import executes, nodes, texts

CARDS = rendered()
IDS = [n for n, _ in CARDS]
TEAMS_LIMIT = 28 * 1024

# Strings that must never travel in action data: who the target is, who acted.
PERSONAL = [
    samples.ALICE.display_name, samples.ALICE.user_principal_name, samples.BOB.user_principal_name,
    samples.CAROL.display_name, samples.RESPONDER.name, samples.APPROVER.name, "reset_password", "block_signin",
]


@pytest.mark.parametrize(("name", "card"), CARDS, ids=IDS)
def test_action_data_carries_only_opaque_ids(name: str, card: dict[str, Any]) -> None:
    for action in executes(card):
        assert action["verb"] in verbs.ALL_VERBS
        data = action["data"]
        assert set(data) == verbs.VERB_DATA_KEYS[action["verb"]], (action["verb"], data)
        assert set(data) <= verbs.DATA_KEYS
        for value in data.values():
            assert isinstance(value, str)
            assert len(value) <= 64
            assert all(p not in value for p in PERSONAL)
    submits = [n for n in nodes(card) if n.get("type") == "Action.Submit"]
    assert submits == [], "cards use Universal Actions only"


@pytest.mark.parametrize(("name", "card"), CARDS, ids=IDS)
def test_card_fits_teams_size_limit(name: str, card: dict[str, Any]) -> None:
    assert size_of(card) <= SIZE_BUDGET < TEAMS_LIMIT
    assert len(json.dumps(card, ensure_ascii=False).encode()) <= TEAMS_LIMIT


def test_size_check_counts_escaped_bytes() -> None:
    # Emoji travel as \ud83d\udd25 (12 bytes) in ASCII JSON: the budget must see that.
    assert size_of({"t": "🔥"}) == len('{"t":"\\ud83d\\udd25"}')


@pytest.mark.parametrize("sandbox", [True, False])
@pytest.mark.parametrize("auth_off", [True, False])
def test_banner_follows_the_mode(sandbox: bool, auth_off: bool) -> None:
    ctx = CardContext(sandbox=sandbox, auth_off=auth_off, now=CARDS_NOW)
    for name, card in rendered(ctx):
        first = card["body"][0]
        has_banner = first.get("id") == "contain-banner"
        assert has_banner == (sandbox or auth_off), name
        words = texts(first) if has_banner else []
        assert (SANDBOX_TEXT in words) == sandbox, name
        assert (AUTH_OFF_TEXT in words) == auth_off, name
        if has_banner:
            assert first["style"] == "attention"
        # No other element pretends to be the banner.
        assert sum(1 for n in nodes(card) if n.get("id") == "contain-banner") == int(has_banner)


@pytest.mark.parametrize(("name", "card"), [c for c in CARDS if c[0].endswith("/hostile")],
                         ids=[n for n, _ in CARDS if n.endswith("/hostile")])
def test_hostile_text_renders_literally(name: str, card: dict[str, Any]) -> None:
    for text in texts(card):
        assert not re.search(r"\[[^\]]*\]\(", text), text[:120]  # no markdown link
        assert "**" not in text and "`" not in text and "<b>" not in text
        assert "http://" not in text.lower()
        assert not re.search("[\u202a-\u202e\u2066-\u2069\u200b\ufeff]", text)
        assert len(text) <= 600


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[click](http://evil)", "\uff3bclick\uff3d(hxxp://evil)"),
        ("**bold** __x__", "\u2217\u2217bold\u2217\u2217 \uff3f\uff3fx\uff3f\uff3f"),
        ("john_doe@contoso.com", "john_doe@contoso.com"),  # intraword underscores stay
        ("- item", "\u2010 item"),
        ("1. item", "1\u2024 item"),
        ("a\nb\r\nc\td", "a b c d"),
        ("al\u200bice\u202e", "alice"),
        ("👩\u200d💻", "👩\u200d💻"),  # ZWJ emoji sequences survive
        ("", "—"),
        ("HTTPS://x", "HxxPS://x"),
    ],
)
def test_plain_neutralises_markdown(raw: str, expected: str) -> None:
    assert plain(raw) == expected


def test_plain_truncates_long_values_with_an_ellipsis() -> None:
    out = plain("x" * 10_000)
    assert len(out) == 200 and out.endswith("…")
    assert plain("y" * 200) == "y" * 200


def test_worst_case_runs_stay_under_budget() -> None:
    """Fifteen actions, every sentence and name hostile and huge: still a card Teams accepts."""
    import cards
    from cards.views import ActionLine, LineState, SummaryData
    from services.vocabulary import ActionId, Actor

    ctx = CardContext(sandbox=True, auth_off=True, now=CARDS_NOW, refresh_user_ids=("a",) * 5)
    actor = Actor(id="x", name=samples.HUGE)
    runaway = tuple(
        ActionLine(a, LineState.FAILED, detail=samples.HUGE, requested_by=actor, approved_by=actor,
                   at=CARDS_NOW, request_id="r") for a in ActionId
    )
    target = samples.HOSTILE
    built = [
        cards.running_card(ctx, incident_id="i", target=target, lines=runaway, requested_by=actor),
        cards.done_card(ctx, incident_id="i", batch_id="b", target=target, lines=runaway),
        cards.summary_card(ctx, target=target, data=SummaryData(
            incident_id="i", lines=runaway, audit_events=samples.summary(samples.HUGE).audit_events,
            secure_score=samples.score(samples.HUGE), gaps=(samples.HUGE,) * 20)),
        cards.confirm_card(ctx, incident_id="i", nonce="n", target=target, actions=tuple(ActionId)),
        cards.awaiting_approval_card(ctx, batch_id="b", incident_id="i", target=target, requested_by=actor,
                                     requested_at=CARDS_NOW, reason=samples.HUGE, actions=tuple(ActionId),
                                     expires_at=CARDS_NOW),
        cards.choice_card(ctx, query=samples.HUGE, choice_id="c", candidates=[target] * 50),
    ]
    for card in built:
        assert size_of(card) <= SIZE_BUDGET
