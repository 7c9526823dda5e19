"""Making tenant-supplied text safe to show on a card.

Display names, rule names, alert titles and evidence come from the tenant, which an attacker who
owns a mailbox partly controls. Teams renders a markdown subset in TextBlocks and facts, so an
inbox rule called ``[Verify your account](http://evil)`` would become a link on a security card.
We swap markdown-significant characters for look-alikes (the text still reads the same), defang
URL schemes the way analysts do (hxxp://), drop bidi overrides and invisible spacers that could
disguise a name, and cap every value's length so one huge string cannot push a card past Teams'
size limit.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

MAX_TEXT = 200
ELLIPSIS = "…"

# One-for-one look-alikes: no markdown renderer treats these as syntax.
_LOOKALIKES = str.maketrans(
    {
        "*": "\u2217",  # asterisk operator
        "[": "\uff3b",  # fullwidth left bracket
        "]": "\uff3d",  # fullwidth right bracket
        "`": "\u02cb",  # modifier grave accent
        "<": "\u2039",  # single left angle quote
        ">": "\u203a",  # single right angle quote
        "~": "\u223c",  # tilde operator
        "|": "\u2223",  # divides
        "#": "\uff03",  # fullwidth number sign
        "\\": "\u2216",  # set minus
    }
)
# Bidi embeddings/overrides/isolates and invisible spacers; ZWJ/ZWNJ stay (emoji, Persian).
_INVISIBLE = re.compile("[\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Underscores inside words (john_doe) are not emphasis; at a word edge they can be.
_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_SCHEME = re.compile(r"\b(h)tt(ps?)(?=:)", re.IGNORECASE)
_LEADING_LIST = re.compile(r"^([-+])\s|^(\d+)\.\s")


def truncate(text: str, limit: int = MAX_TEXT) -> str:
    """Cut to ``limit`` characters, ending with an ellipsis when something was cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS


def plain(text: object, limit: int = MAX_TEXT, *, empty: str = "—") -> str:
    """Tenant-supplied text → one line that renders literally in any markdown-aware field."""
    raw = "" if text is None else str(text)
    # Truncate a generous prefix first so a 10 MB string costs nothing to clean.
    raw = raw[: limit * 4]
    raw = _INVISIBLE.sub("", raw)
    raw = _CONTROL.sub(" ", raw).strip()
    raw = _EDGE_UNDERSCORE.sub("\uff3f", raw)  # fullwidth low line
    raw = raw.translate(_LOOKALIKES)
    raw = _SCHEME.sub(lambda m: f"{m.group(1)}xx{m.group(2)}", raw)
    raw = _LEADING_LIST.sub(_defuse_list, raw)
    out = truncate(raw, limit)
    return out if out else empty


def _defuse_list(match: re.Match[str]) -> str:
    if match.group(1):
        return "\u2010 "  # Unicode hyphen: not a list bullet
    return f"{match.group(2)}\u2024 "  # one-dot leader: not an ordered-list marker


def clock(at: datetime | None) -> str:
    """14:32 UTC — the wording the cards use for a time today."""
    if at is None:
        return "—"
    return _utc(at).strftime("%H:%M UTC")


def stamp(at: datetime | None) -> str:
    """2025-03-04 14:32 UTC."""
    if at is None:
        return "—"
    return _utc(at).strftime("%Y-%m-%d %H:%M UTC")


def when(at: datetime | None, now: datetime) -> str:
    """The time alone when it is today, else date and time."""
    if at is None:
        return "—"
    return clock(at) if _utc(at).date() == _utc(now).date() else stamp(at)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
