"""Snapshots: the state an action read before writing, kept for undo and for the record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from services.store.db import Store, utcnow
from services.store.records import Snapshot
from services.store.schema import snapshots
from services.store.scrub import scrub


async def save(store: Store, *, action_request_id: str, action: str, data: dict[str, Any],
               now: datetime | None = None) -> None:
    async with store.write() as conn:
        await conn.execute(snapshots.insert().values(action_request_id=action_request_id, action=action,
                                                     taken_at=now or utcnow(), data=scrub(data)))


async def original(store: Store, *, action_request_id: str) -> Snapshot | None:
    """The first snapshot taken for a request: on a resumed run, the state before any write landed."""
    query = (sa.select(snapshots).where(snapshots.c.action_request_id == action_request_id)
             .order_by(snapshots.c.id).limit(1))
    async with store.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    return Snapshot.from_row(row) if row else None


async def for_request(store: Store, *, action_request_id: str) -> list[Snapshot]:
    query = sa.select(snapshots).where(snapshots.c.action_request_id == action_request_id).order_by(snapshots.c.id)
    async with store.read() as conn:
        return [Snapshot.from_row(r) for r in (await conn.execute(query)).mappings().all()]
