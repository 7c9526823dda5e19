"""Idempotency records: Teams activities already handled, webhook deliveries already accepted, and
the short-lived choices behind an ambiguous-name card."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from services.store.db import Store, new_id, utcnow
from services.store.schema import choices, processed_activities, webhook_deliveries


async def seen_activity(store: Store, *, activity_id: str, now: datetime | None = None) -> bool:
    """Record a Teams activity id; True if it had been recorded before (a redelivery: do nothing)."""
    stmt = store.insert(processed_activities).values(activity_id=activity_id[:512], seen_at=now or utcnow())
    async with store.write() as conn:
        result = await conn.execute(stmt.on_conflict_do_nothing(index_elements=["activity_id"]))
    return result.rowcount != 1


async def activity_seen(store: Store, *, activity_id: str) -> bool:
    """True if this activity id was recorded as handled; records nothing. Handlers check with this first
    and record with `seen_activity` only once their decision is stored, so an instance that dies in
    between leaves the redelivery to be handled, not refused."""
    async with store.read() as conn:
        row = (await conn.execute(sa.select(processed_activities.c.activity_id).where(
            processed_activities.c.activity_id == activity_id[:512]))).first()
    return row is not None


async def seen_delivery(store: Store, *, signature: str, now: datetime | None = None) -> bool:
    """Record a webhook delivery's signature; True if it was seen before (a replay: refuse it)."""
    stmt = store.insert(webhook_deliveries).values(signature=signature[:128], received_at=now or utcnow())
    async with store.write() as conn:
        result = await conn.execute(stmt.on_conflict_do_nothing(index_elements=["signature"]))
    return result.rowcount != 1


async def prune(store: Store, *, older_than: datetime) -> int:
    """Forget activities and deliveries older than the window in which a redelivery can arrive, and
    expired choices."""
    async with store.write() as conn:
        n = (await conn.execute(processed_activities.delete().where(processed_activities.c.seen_at < older_than)
                                )).rowcount
        n += (await conn.execute(webhook_deliveries.delete().where(webhook_deliveries.c.received_at < older_than)
                                 )).rowcount
        n += (await conn.execute(choices.delete().where(choices.c.expires_at < older_than))).rowcount
    return int(n)


async def save_choice(store: Store, *, query: str, candidate_ids: Sequence[str], created_by_id: str,
                      ttl: timedelta = timedelta(minutes=15), now: datetime | None = None) -> str:
    """Keep the candidates of an ambiguous name server-side; the card carries only the returned nonce."""
    nonce = new_id("chc", 16)
    async with store.write() as conn:
        await conn.execute(choices.insert().values(
            nonce=nonce, query=query[:256], candidates=list(candidate_ids), created_by_id=created_by_id,
            expires_at=(now or utcnow()) + ttl))
    return nonce


async def get_choice(store: Store, *, nonce: str, now: datetime | None = None) -> tuple[str, ...] | None:
    """The candidate user ids behind a nonce, or None if unknown or expired."""
    query = sa.select(choices.c.candidates).where(choices.c.nonce == nonce, choices.c.expires_at > (now or utcnow()))
    async with store.read() as conn:
        found = (await conn.execute(query)).scalar()
    return tuple(found) if found is not None else None
