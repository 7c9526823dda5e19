"""Counting what reached the tenant: the sandbox's write log (only writes it accepted) read as
(account, action) pairs, so "applied exactly once" is a count, not a belief. Shared with bench/chaos.py."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

# Actions whose every run is one write to the account, attributable from the write log alone.
ONE_WRITE_ACTIONS = ("revoke_sessions", "confirm_compromised", "remove_forwarding", "block_signin",
                     "enable_mailbox_audit")


def _get(write: Any, key: str) -> Any:
    return write.get(key) if isinstance(write, Mapping) else getattr(write, key)


def action_of(write: Any) -> tuple[str, str] | None:
    """(account id, action id) for a write one of ONE_WRITE_ACTIONS makes, else None."""
    route, target, body = str(_get(write, "route")), _get(write, "target"), _get(write, "body") or {}
    if not target:
        return None
    account = str(target).split("/")[0]
    if route.endswith("/revokeSignInSessions"):
        return account, "revoke_sessions"
    if route.endswith("/riskyUsers/confirmCompromised"):
        return account, "confirm_compromised"
    if route == "PATCH /users/{id}" and isinstance(body, dict) and body.get("accountEnabled") is False:
        return account, "block_signin"
    params = ((body.get("CmdletInput") or {}).get("Parameters") or {}) if isinstance(body, dict) else {}
    if route == "EXO Set-Mailbox" and ("ForwardingSmtpAddress" in params or "ForwardingAddress" in params):
        return account, "remove_forwarding"
    # Auditing is on by default: what enable_mailbox_audit writes is the end of the account's audit bypass.
    if route == "EXO Set-MailboxAuditBypassAssociation" and params.get("AuditBypassEnabled") is False:
        return account, "enable_mailbox_audit"
    return None


def tally(writes: Iterable[Any], expected: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """lost: expected (account, action) pairs with no write; duplicated: writes beyond the first per pair."""
    counts = Counter(pair for pair in map(action_of, writes) if pair is not None)
    wanted = set(expected)
    return {"applied": sum(1 for p in wanted if counts[p] >= 1),
            "lost": sorted(p for p in wanted if counts[p] == 0),
            "duplicated": sorted((p, n) for p, n in counts.items() if n > 1),
            "unexpected": sorted(p for p in counts if p not in wanted)}


def writes_json(raw: bytes | str) -> list[dict[str, Any]]:
    """The body of GET /_sandbox/writes as a list of write records."""
    data = json.loads(raw)
    return list(data["value"])
