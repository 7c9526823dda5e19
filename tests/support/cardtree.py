"""Walking a card's JSON: every element (dict), depth first, in document order."""

from __future__ import annotations

from typing import Any


def elements(node: Any) -> list[dict[str, Any]]:
    """Every dict in `node` (a card, an activity, any JSON), the node itself first, then its children."""
    found: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return found
