"""The account's audit events for the summary, from the Audit Log Query API.

The API is asynchronous and slow (a query runs for seconds to minutes): create a query, poll its
status with a bounded wait, then read its records. When the wait runs out the summary says the
events are still being gathered and keeps the query id, so they can be read later without asking
again (`gather_audit_events(query_id=...)`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.tenant.errors import TenantError
from services.tenant.models import AuditRecord

DAYS = 7
RULE_OPERATIONS = frozenset({"new-inboxrule", "set-inboxrule", "enable-inboxrule", "disable-inboxrule",
                             "remove-inboxrule", "updateinboxrules"})
FORWARDING_PARAMETERS = ("forwardingsmtpaddress", "forwardingaddress", "delivertomailboxandforward")
SEND_OPERATIONS = frozenset({"send", "sendas", "sendonbehalf"})
PENDING_NOTE = "Audit events still being gathered; the Audit Log Query API has not finished yet."


@dataclass(frozen=True, slots=True)
class AuditEventLine:
    at: datetime | None
    operation: str
    detail: str = ""
    client_ip: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEvents:
    days: int = DAYS
    pending: bool = False
    note: str = ""
    query_id: str | None = None
    counts: tuple[tuple[str, int], ...] = ()  # (operation, records), most frequent first
    inbox_rule_changes: tuple[AuditEventLine, ...] = ()
    forwarding_changes: tuple[AuditEventLine, ...] = ()
    mail_items_accessed: int = 0  # items, summed over aggregated records (OperationCount)
    mail_items_accessed_records: int = 0
    sends: int = 0


def _params(record: AuditRecord) -> dict[str, Any]:
    raw = record.audit_data.get("Parameters") or record.audit_data.get("parameters") or {}
    if isinstance(raw, list):  # the real service sends [{"Name": ..., "Value": ...}]
        return {str(p.get("Name")): p.get("Value") for p in raw if isinstance(p, dict)}
    return raw if isinstance(raw, dict) else {}


def _detail(params: dict[str, Any]) -> str:
    shown = [f"{k}={v}" for k, v in params.items() if k.lower() != "identity" and v not in (None, "")]
    return ", ".join(shown)[:200]


def classify(records: Sequence[AuditRecord], *, days: int = DAYS, query_id: str | None = None) -> AuditEvents:
    """Counts and the notable changes among an account's audit records (pure)."""
    counts: Counter[str] = Counter()
    rules, forwarding = [], []
    accessed = accessed_records = sends = 0
    for r in sorted(records, key=lambda r: r.created or datetime.min.replace(tzinfo=UTC)):
        op = r.operation or "unknown"
        low = op.lower()
        counts[op] += 1
        params = _params(r)
        line = AuditEventLine(at=r.created, operation=op, detail=_detail(params), client_ip=r.client_ip)
        if low in RULE_OPERATIONS:
            rules.append(line)
        if low == "set-mailbox" and any(k.lower() in FORWARDING_PARAMETERS for k in params):
            forwarding.append(line)
        if low == "mailitemsaccessed":
            accessed_records += 1
            try:
                accessed += int(r.audit_data.get("OperationCount") or 1)
            except (TypeError, ValueError):
                accessed += 1
        if low in SEND_OPERATIONS:
            sends += 1
    return AuditEvents(days=days, query_id=query_id, counts=tuple(counts.most_common()),
                       inbox_rule_changes=tuple(rules), forwarding_changes=tuple(forwarding),
                       mail_items_accessed=accessed, mail_items_accessed_records=accessed_records, sends=sends)


async def gather_audit_events(*, tenant: Any, user_principal_name: str, now: datetime | None = None,
                              days: int = DAYS, wait_s: float = 20.0, poll_s: float = 0.5,
                              query_id: str | None = None) -> AuditEvents:
    """Create (or resume) the query for the account's last `days` days and wait at most `wait_s`."""
    now = now or datetime.now(UTC)
    try:
        if query_id is None:
            query = await tenant.create_audit_query(
                display_name=f"Contain: {user_principal_name} last {days} days",
                start=now - timedelta(days=days), end=now, user_principal_names=[user_principal_name])
            query_id, status = query.id, query.status
        else:
            status = (await tenant.get_audit_query(query_id=query_id)).status
        deadline = time.monotonic() + wait_s
        delay = min(poll_s, 0.25)
        while status not in ("succeeded", "failed", "cancelled"):
            left = deadline - time.monotonic()
            if left <= 0:
                return AuditEvents(days=days, pending=True, note=PENDING_NOTE, query_id=query_id)
            await asyncio.sleep(min(delay, left))
            # Grow gently: a query that ends at one second is seen at about 1.2 s, not 1.75 s (doubling), while
            # a long wait still settles at one poll every two seconds.
            delay = min(delay * 1.5, max(poll_s, 2.0))
            status = (await tenant.get_audit_query(query_id=query_id)).status
        if status != "succeeded":
            return AuditEvents(days=days, query_id=query_id,
                               note=f"The Audit Log Query API reports the query {status}; no events to show.")
        records = await tenant.list_audit_records(query_id=query_id)
    except TenantError as exc:
        return AuditEvents(days=days, query_id=query_id, note=f"Audit events unavailable: {exc.sentence}")
    return classify(records, days=days, query_id=query_id)
