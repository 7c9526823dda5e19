"""The append-only audit log with a hash chain.

Each row's hash is sha256 over a canonical JSON of its fields and the previous row's hash, so
changing, removing or reordering any row breaks every later link and `verify` names the first
broken row. There is deliberately no function here that updates or deletes a row.

Appends are serialised so the chain stays one line with many writers: a transaction-scoped advisory
lock on PostgreSQL, the `BEGIN IMMEDIATE` write lock on SQLite. The lock is held until the caller's
transaction commits, so append last in a transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.store.db import Store, is_write_connection, utcnow
from services.store.records import AuditEntry
from services.store.schema import audit_log
from services.store.scrub import scrub_text
from services.vocabulary import Actor

GENESIS_HASH = "0" * 64
AUDIT_LOCK_KEY = 0x0A0D17  # same constant in every instance
SYSTEM_ACTOR = Actor(id="system", name="Contain")
_PAGE = 500


def format_at(at: datetime) -> str:
    """The one textual form of a timestamp used in hashes and exports (UTC, microseconds)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(fields: dict[str, Any]) -> str:
    """sha256 over the canonical JSON of a row's fields (everything but `hash` itself)."""
    canonical = {
        "seq": int(fields["seq"]),
        "at": format_at(fields["at"]),
        "actor_id": fields["actor_id"],
        "actor_name": fields["actor_name"],
        "event": fields["event"],
        "target": fields["target"],
        "outcome": fields["outcome"],
        "correlation_id": fields["correlation_id"],
        "incident_id": fields["incident_id"],
        "request_ids": list(fields["request_ids"] or ()),
        "detail": fields["detail"],
        "prev_hash": fields["prev_hash"],
    }
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


async def append(
    conn: AsyncConnection,
    *,
    actor: Actor,
    event: str,
    target: str = "",
    outcome: str = "",
    detail: str = "",
    correlation_id: str | None = None,
    incident_id: str | None = None,
    request_ids: Iterable[str] = (),
    at: datetime | None = None,
) -> AuditEntry:
    """Append one row inside the caller's write transaction (use `store.write()`)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
    elif not is_write_connection(conn):
        # A deferred SQLite transaction could read the chain head and then lose the write lock race.
        raise RuntimeError("audit.append needs a write transaction (store.write()).")
    head = (await conn.execute(
        sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    )).first()
    fields: dict[str, Any] = {
        "seq": (head.seq + 1) if head else 1,
        "at": (at or utcnow()).astimezone(UTC),
        "actor_id": (actor.id or "")[:64],
        "actor_name": scrub_text(actor.name or "")[:256],
        "event": event[:64],
        "target": scrub_text(target)[:512],
        "outcome": outcome[:32],
        "correlation_id": correlation_id[:64] if correlation_id else None,
        "incident_id": incident_id,
        "request_ids": [str(r)[:256] for r in request_ids],
        "detail": scrub_text(detail),
        "prev_hash": head.hash if head else GENESIS_HASH,
    }
    fields["hash"] = row_hash(fields)
    await conn.execute(audit_log.insert().values(**fields))
    return AuditEntry.from_row(fields)  # type: ignore[arg-type]


async def record(store: Store, **fields: Any) -> AuditEntry:
    """Append one row in its own short write transaction. Same keywords as `append`."""
    async with store.write() as conn:
        return await append(conn, **fields)


async def recent(store: Store, *, incident_id: str | None = None, limit: int = 50) -> list[AuditEntry]:
    """The latest `limit` rows (optionally of one incident), oldest first."""
    query = sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(max(1, limit))
    if incident_id is not None:
        query = query.where(audit_log.c.incident_id == incident_id)
    async with store.read() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [AuditEntry.from_row(r) for r in reversed(rows)]


async def _pages(store: Store, *, incident_id: str | None = None) -> AsyncIterator[list[AuditEntry]]:
    last = 0
    while True:
        query = sa.select(audit_log).where(audit_log.c.seq > last).order_by(audit_log.c.seq).limit(_PAGE)
        if incident_id is not None:
            query = query.where(audit_log.c.incident_id == incident_id)
        async with store.read() as conn:
            rows = [AuditEntry.from_row(r) for r in (await conn.execute(query)).mappings().all()]
        if not rows:
            return
        yield rows
        last = rows[-1].seq


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    rows: int
    first_broken_seq: int | None = None
    reason: str = ""

    @property
    def message(self) -> str:
        if self.ok:
            return f"Audit chain intact: {self.rows} rows."
        return f"Audit chain broken at row {self.first_broken_seq}: {self.reason}."


async def verify(store: Store) -> VerifyResult:
    """Recompute the whole chain and name the first row that does not fit.

    Removing the newest rows cannot be seen from the chain alone; everything else can."""
    count = 0
    prev_seq, prev_hash = 0, GENESIS_HASH
    async for page in _pages(store):
        for entry in page:
            fields = entry.to_json() | {"at": entry.at}
            if entry.seq != prev_seq + 1:
                return VerifyResult(False, count, prev_seq + 1,
                                    f"row {prev_seq + 1} is missing (the sequence jumps to {entry.seq})")
            if entry.prev_hash != prev_hash:
                return VerifyResult(False, count, entry.seq, f"it does not link to row {prev_seq}'s hash")
            if row_hash(fields) != entry.hash:
                return VerifyResult(False, count, entry.seq, "its contents do not match its hash")
            count += 1
            prev_seq, prev_hash = entry.seq, entry.hash
    return VerifyResult(True, count)


async def export(store: Store, *, incident_id: str | None = None) -> AsyncIterator[dict[str, Any]]:
    """Every row (or one incident's rows) in order, as JSON-ready dicts including both hashes."""
    async for page in _pages(store, incident_id=incident_id):
        for entry in page:
            yield entry.to_json()
