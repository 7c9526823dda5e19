"""The signed alert webhook: signature check and payload parsing.

A delivery carries `X-Contain-Timestamp` (unix seconds) and `X-Contain-Signature: sha256=<hex>`, an
HMAC-SHA256 over `timestamp + "." + body` keyed with CONTAIN_WEBHOOK_SECRET. Replays are caught by
the caller, which records each accepted signature in the store.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

MAX_AGE_S = 300
MAX_BODY_BYTES = 64 * 1024
_SIGNATURE = re.compile(r"^sha256=([0-9a-f]{64})$")
_SEVERITIES = ("informational", "low", "medium", "high")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class WebhookRefused(ValueError):
    """The delivery is refused; the message is one sentence safe to return to the sender."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class AlertIn:
    alert_id: str
    source: str
    account: str
    severity: str
    title: str


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value a sender computes (used by tests and the demo's alert tool)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(*, secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> str:
    """Check freshness and signature; return the signature's hex digest (the replay key)."""
    if not timestamp or not signature:
        raise WebhookRefused("The delivery is missing X-Contain-Timestamp or X-Contain-Signature.")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookRefused("X-Contain-Timestamp must be unix seconds.")
    if abs(now - int(timestamp)) > MAX_AGE_S:
        raise WebhookRefused("The delivery is older than five minutes (or from the future); it was refused.")
    match = _SIGNATURE.match(signature.strip().lower())
    if not match:
        raise WebhookRefused("X-Contain-Signature must look like sha256=<64 hex digits>.")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected, f"sha256={match.group(1)}"):
        raise WebhookRefused("The signature does not match the body; the delivery was refused.")
    return match.group(1)


def _text(payload: dict[str, Any], key: str, *, limit: int, required: bool = True) -> str:
    value = payload.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise WebhookRefused(f"The alert needs a non-empty string field '{key}'.", status=400)
    value = _CONTROL.sub(" ", value).strip()
    if len(value) > limit:
        raise WebhookRefused(f"The alert field '{key}' is longer than {limit} characters.", status=400)
    return value


def parse(body: bytes) -> AlertIn:
    """Parse a verified body into an AlertIn, refusing anything malformed with one sentence."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRefused("The alert body is not valid JSON.", status=400) from None
    if not isinstance(payload, dict):
        raise WebhookRefused("The alert body must be a JSON object.", status=400)
    severity = _text(payload, "severity", limit=20).lower()
    if severity not in _SEVERITIES:
        raise WebhookRefused("The alert severity must be informational, low, medium or high.", status=400)
    return AlertIn(
        alert_id=_text(payload, "alert_id", limit=200),
        source=_text(payload, "source", limit=100),
        account=_text(payload, "account", limit=256),
        severity=severity,
        title=_text(payload, "title", limit=300),
    )
