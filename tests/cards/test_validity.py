"""Every card validates against the official Adaptive Cards 1.5 schema and parses with no errors or
warnings in the official renderer library (npm adaptivecards), and both checks can fail."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from typing import Any

import jsonschema
import pytest

from tests.cards.samples import rendered
from tests.conftest import REPO, SCHEMAS

VALIDATOR_JS = REPO / "tests" / "js" / "validate_cards.mjs"
CARDS = rendered()

BROKEN: dict[str, dict[str, Any]] = {
    "unknown element": {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Sparkline", "points": [1]}]},
    "unsupported version": {"type": "AdaptiveCard", "version": "9.1", "body": [{"type": "TextBlock", "text": "x"}]},
    "required input without label": {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "Input.Text", "id": "reason", "isRequired": True}],
    },
}


@cache
def schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "adaptive-card-1.5.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(card: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:300]}" for e in schema_validator().iter_errors(card)]


@cache
def renderer_results() -> tuple[list[dict[str, Any]], ...]:
    """One node run for every sample card plus the broken ones, in that order."""
    node = shutil.which("node")
    assert node, "node is needed for the Adaptive Cards renderer check (make install sets it up)"
    payload = [card for _, card in CARDS] + list(BROKEN.values())
    done = subprocess.run(
        [node, str(VALIDATOR_JS)], input=json.dumps(payload), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) == len(payload)
    return tuple(r["errors"] for r in results)


@pytest.mark.parametrize(("name", "card"), CARDS, ids=[n for n, _ in CARDS])
def test_card_matches_the_1_5_schema(name: str, card: dict[str, Any]) -> None:
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.5"
    assert schema_errors(card) == []


@pytest.mark.parametrize("index", range(len(CARDS)), ids=[n for n, _ in CARDS])
def test_card_parses_cleanly_in_the_official_renderer(index: int) -> None:
    assert renderer_results()[index] == []


@pytest.mark.parametrize("name", list(BROKEN))
def test_renderer_check_rejects_a_broken_card(name: str) -> None:
    errors = renderer_results()[len(CARDS) + list(BROKEN).index(name)]
    assert errors, f"the renderer check accepted a broken card: {name}"


@pytest.mark.parametrize(
    "card",
    [
        BROKEN["unknown element"],
        {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "x", "glow": True}]},
        # The builder's newer name (firstRowAsHeaders) is not 1.5: the schema must catch such drift.
        {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Table", "firstRowAsHeaders": True}]},
        {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Badge", "text": "x"}]},
        {"type": "AdaptiveCard", "version": "1.5", "actions": [{"type": "Action.Execute", "verb": 3}]},
    ],
)
def test_schema_check_rejects_a_broken_card(card: dict[str, Any]) -> None:
    assert schema_errors(card)
