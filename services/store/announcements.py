"""The command line's outbox: sentences for an incident's Teams thread, left in the store by a `contain`
process (which has no Bot Framework connection) and posted by the bot's timers.

    await announcements.leave(store, incident_id=..., text=...)        # the CLI
    for item in await announcements.undelivered(store):                # the bot's timers
        if await announcements.claim(store, item_id=item.id): post it, then done(...) or failed(...)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.store.db import Store, utcnow
from services.store.schema import cli_outbox
from services.store.scrub import plain_text

MAX_ATTEMPTS = 5
TEXT_MAX = 2000


@dataclass(frozen=True, slots=True)
class Announcement:
    id: int
    incident_id: str
    text: str
    created_at: datetime
    attempts: int


async def leave_in(conn: AsyncConnection, *, incident_id: str, text: str, now: datetime | None = None) -> None:
    """Inside a write transaction (with the audit row it announces)."""
    await conn.execute(sa.insert(cli_outbox).values(incident_id=incident_id, text=plain_text(text)[:TEXT_MAX],
                                                    created_at=now or utcnow(), attempts=0))


async def leave(store: Store, *, incident_id: str, text: str, now: datetime | None = None) -> None:
    async with store.write() as conn:
        await leave_in(conn, incident_id=incident_id, text=text, now=now)


async def undelivered(store: Store, *, limit: int = 50) -> list[Announcement]:
    """Oldest first, not yet taken."""
    c = cli_outbox.c
    async with store.read() as conn:
        rows = (await conn.execute(sa.select(cli_outbox).where(c.delivered_at.is_(None))
                                   .order_by(c.id).limit(limit))).mappings().all()
    return [Announcement(id=r["id"], incident_id=r["incident_id"], text=r["text"], created_at=r["created_at"],
                         attempts=r["attempts"]) for r in rows]


async def claim(store: Store, *, item_id: int, now: datetime | None = None) -> bool:
    """Take one announcement to post it; False when another instance took it first."""
    c = cli_outbox.c
    async with store.write() as conn:
        result = await conn.execute(sa.update(cli_outbox).where(c.id == item_id, c.delivered_at.is_(None))
                                    .values(delivered_at=now or utcnow(), outcome="posting"))
    return bool(result.rowcount)


async def done(store: Store, *, item_id: int, outcome: str) -> None:
    """How it ended: posted, or no_thread (the incident has no Teams thread to post in)."""
    async with store.write() as conn:
        await conn.execute(sa.update(cli_outbox).where(cli_outbox.c.id == item_id).values(outcome=outcome[:32]))


async def failed(store: Store, *, item_id: int) -> None:
    """The post failed: back in the queue for the next round, given up after MAX_ATTEMPTS."""
    c = cli_outbox.c
    async with store.write() as conn:
        await conn.execute(sa.update(cli_outbox).where(c.id == item_id).values(attempts=c.attempts + 1))
        await conn.execute(sa.update(cli_outbox).where(c.id == item_id, c.attempts < MAX_ATTEMPTS)
                           .values(delivered_at=None, outcome=None))
        await conn.execute(sa.update(cli_outbox).where(c.id == item_id, c.attempts >= MAX_ATTEMPTS)
                           .values(outcome="gave_up"))
