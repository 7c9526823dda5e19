"""Helpers to look inside card dicts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict in the card, depth first (elements, actions, inner ShowCard cards, refresh)."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from nodes(child)


def executes(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in nodes(card) if n.get("type") == "Action.Execute"]


def of_type(card: dict[str, Any], type_name: str) -> list[dict[str, Any]]:
    return [n for n in nodes(card) if n.get("type") == type_name]


def texts(card: dict[str, Any]) -> list[str]:
    """Every string a user can read: TextBlock text, fact titles/values, toggle and button titles."""
    out: list[str] = []
    for n in nodes(card):
        for key in ("text", "title", "value", "label", "placeholder", "errorMessage"):
            if isinstance(n.get(key), str):
                out.append(n[key])
    return out
