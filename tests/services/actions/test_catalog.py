"""The action catalog is the only place titles, impact and undo are written, and everything reads it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.actions import ACTIONS, catalog
from services.vocabulary import ActionId, Impact

ROOT = Path(__file__).resolve().parents[3]
CATALOG_FILE = ROOT / "services" / "actions" / "catalog.py"
# The source the product ships: services, dialogs, cards, the composition root, the benchmarks, and the
# sandbox (the tenant stand-in speaks Microsoft's words, never ours).
SOURCES = ("services", "dialogs", "cards", "sandbox", "bench", "bot.py", "contain.py")


def _sources() -> list[Path]:
    out: list[Path] = []
    for name in SOURCES:
        path = ROOT / name
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out.extend(p for p in path.rglob("*.py") if p != CATALOG_FILE)
    return out


def _strings() -> list[str]:
    words = [s.title for s in catalog.CATALOG.values()]
    words += [s.description for s in catalog.CATALOG.values()]
    words += [catalog.impact_label(i) for i in Impact] + [catalog.SECOND_RESPONDER_NOTE]
    words += [p.unmet for s in catalog.CATALOG.values() for p in s.prerequisites]
    return words


def _copies(text: str) -> list[str]:
    # A string literal that starts with a catalog string (a title, a description, an impact label) is a copy.
    return [w for w in _strings() if re.search(r"[\"'(]" + re.escape(w) + r"(?:[\"'.)]| \()", text)]


def test_the_copy_detector_sees_a_copy() -> None:
    assert _copies('label = "Reset password"') == ["Reset password"]
    assert _copies('title += " (needs second responder)"') == ["needs second responder"]
    assert _copies("Undo: Reset password done") == []


def test_titles_impact_and_refusals_are_written_only_in_the_catalog() -> None:
    found = [f"{path.relative_to(ROOT)}: {word!r}" for path in _sources()
             for word in _copies(path.read_text(encoding="utf-8"))]
    assert found == []


def test_the_catalog_answers_for_every_action() -> None:
    assert set(catalog.CATALOG) == set(ActionId) == set(ACTIONS)
    for action in ActionId:
        spec = catalog.spec(action)
        assert spec.title and spec.description.endswith(".")
        assert catalog.impact(action, target_is_admin=True) is Impact.HIGH
        if spec.undo is catalog.UndoBy.COUNTERPART:
            assert spec.undone_by is not None and catalog.undo_action(action) is spec.undone_by
        if spec.undoable:  # whatever the catalog says can be undone, the action object can undo
            assert type(ACTIONS[action]).undo_plan is not type(ACTIONS[action]).__mro__[-2].undo_plan


def test_the_high_impact_actions_are_the_policys() -> None:
    assert catalog.high_impact_actions() == {ActionId.RESET_PASSWORD, ActionId.BLOCK_SIGNIN,
                                             ActionId.REMOVE_ADMIN_ROLES, ActionId.UNBLOCK_SENDER}
    assert catalog.impact(ActionId.REVOKE_SESSIONS) is Impact.STANDARD


@pytest.mark.parametrize("action", [ActionId.DISABLE_LEGACY_PROTOCOLS, ActionId.UNBLOCK_SIGNIN,
                                    ActionId.BLOCK_SIGNIN, ActionId.DISABLE_INBOX_RULES, ActionId.REMOVE_FORWARDING])
def test_what_the_services_can_undo_the_catalog_offers(action: ActionId) -> None:
    assert catalog.undoable(action)


def test_unblock_sender_has_one_refusal_sentence() -> None:
    spec = catalog.spec(ActionId.UNBLOCK_SENDER)
    both = spec.refusal([ActionId.RESET_PASSWORD, ActionId.REVOKE_SESSIONS])
    assert "password has not been reset and sessions have not been revoked" in both
    assert "override" in both and spec.overridable


def test_disable_inbox_rules_says_outlook_client_rules_go() -> None:
    assert ("any inbox-rule change made through exchange removes the mailbox's client-side outlook rules"
            in catalog.description(ActionId.DISABLE_INBOX_RULES).lower())


def test_docs_actions_table_is_the_catalogs() -> None:
    doc = (ROOT / "docs" / "actions.md").read_text(encoding="utf-8")
    assert catalog.markdown_table() in doc, "regenerate docs/actions.md's table from services.actions.catalog"
