"""A last line of defence: nothing that looks like a password, secret or token is written to the
store. Callers should never pass one; this catches the mistake instead of persisting it."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, overload

log = logging.getLogger(__name__)

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"pass(word|wd|phrase)?|pwd|secret|token|credential", re.IGNORECASE)
# Timestamps and flags about a password are facts, not secrets (lastPasswordChangeDateTime,
# forceChangePasswordNextSignIn); only string values under a secret-looking key are redacted.
_HARMLESS_SUFFIX = re.compile(r"(date)?time$|_at$|signin$", re.IGNORECASE)
# "password: X", "token=X", "secret is X" inside free text.
_SECRET_TEXT = re.compile(
    r"(?P<key>\b(?:temporary\s+)?(?:password|passwd|pwd|secret|token|credential)s?\b)"
    # "password is reset" is prose; after is/was only a quoted word, or one with a digit or a symbol, is a secret.
    r"(?:(?P<sep>\s*[:=]\s*)(?P<value>[\"']?\S+)"
    r"|(?P<sep2>\s+(?:is|was)\s+)(?P<quoted>[\"']\S+|(?=\S*\d)\S+|(?=\S*[^\w\s.,;:!?)])\S+))",
    re.IGNORECASE,
)


_SPACES = re.compile(r"\s+")


def plain_text(raw: str) -> str:
    """Text with control and format characters (bidi overrides, zero-width, NUL…) removed and runs of
    whitespace collapsed to one space: what a reason or a name may look like in a card or a row."""
    kept = "".join(" " if ch in "\t\r\n" else ch for ch in raw
                   if ch in "\t\r\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    return _SPACES.sub(" ", kept).strip()


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) and not _HARMLESS_SUFFIX.search(key)


def scrub_text(text: str) -> str:
    """Redact `password: …`-style values in free text (audit details, result sentences)."""
    cleaned, count = _SECRET_TEXT.subn(lambda m: f"{m['key']}{m['sep'] or m['sep2']}{REDACTED}", text)
    if count:
        log.warning("redacted %d secret-looking value(s) from text bound for the store", count)
    return cleaned


@overload
def scrub(value: Mapping[str, Any]) -> dict[str, Any]: ...
@overload
def scrub(value: str) -> str: ...


def scrub(value: Any) -> Any:
    """Return a copy of JSON-like data with secret-looking keys redacted and free text scrubbed."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and is_secret_key(key) and isinstance(item, str) and item:
                log.warning("redacted the value of key %r bound for the store", key)
                out[key] = REDACTED
            else:
                out[key] = scrub(item)
        return out
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [scrub(item) for item in value]
    return value
