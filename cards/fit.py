"""The last resort against Teams' message size limit: reduce any card until a size test passes.

The builders already keep their cards under SIZE_BUDGET by trimming what matters least (evidence, the
least severe findings, notable events). This runs on whatever leaves, after the activity around the
card is known: it shortens the longest texts step by step, then drops trailing body elements (never
the banner, the title, an input or a button) and says so on the card. Action data is never touched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from cards.common import SIZE_BUDGET, size_of, tb

SHORTENED = "Shortened to fit Teams' message size limit; the command line (contain investigate) shows everything."
TEXT_LIMITS = (600, 300, 160, 80, 40)
_TEXT_KEYS = {"TextBlock": ("text",), "TextRun": ("text",), "Fact": ("title", "value"), "Input.Toggle": ("title",)}


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for key, child in value.items():
            if key != "data":  # action data carries ids: never walked, never changed
                yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)


def _kind(node: dict[str, Any]) -> str:
    if "type" in node:
        return str(node["type"])
    return "Fact" if set(node) <= {"title", "value"} and "value" in node else ""


def _shorten(card: dict[str, Any], limit: int) -> None:
    body = [e for e in card.get("body", []) if e.get("id") != "contain-banner"]  # the banner reads in full
    for node in _nodes(body):
        for key in _TEXT_KEYS.get(_kind(node), ()):
            text = node.get(key)
            if isinstance(text, str) and len(text) > limit:
                node[key] = text[: limit - 1] + "…"


def _essential(element: dict[str, Any]) -> bool:
    """The banner, inputs (buttons send them) and anything holding them stay."""
    return element.get("id") == "contain-banner" or any(_kind(n).startswith("Input.") for n in _nodes(element))


def shrink(card: dict[str, Any], fits: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """`card` itself when `fits(card)`; otherwise a reduced copy that fits if anything does."""
    if fits(card):
        return card
    out = copy.deepcopy(card)
    for limit in TEXT_LIMITS:
        _shorten(out, limit)
        if fits(out):
            return out
    body: list[dict[str, Any]] = out.setdefault("body", [])
    body.append(tb(SHORTENED, subtle=True, separator=True).model_dump(by_alias=True, exclude_none=True))
    title = next((i for i, e in enumerate(body) if e.get("type") == "TextBlock"), 0)
    for index in range(len(body) - 2, title, -1):
        if not _essential(body[index]):
            del body[index]
            if fits(out):
                return out
    return out


def within_budget(card: dict[str, Any]) -> dict[str, Any]:
    """A builder's last step when its own trimming could not reach SIZE_BUDGET."""
    return shrink(card, lambda candidate: size_of(candidate) <= SIZE_BUDGET)
