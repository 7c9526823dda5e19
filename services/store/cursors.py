"""Named cursors (e.g. the last alert time a poller has seen), so a restart neither misses nor repeats."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from services.store.db import Store, utcnow
from services.store.schema import cursors


async def get(store: Store, *, name: str) -> str | None:
    async with store.read() as conn:
        return (await conn.execute(sa.select(cursors.c.value).where(cursors.c.name == name))).scalar()


async def put(store: Store, *, name: str, value: str, now: datetime | None = None) -> None:
    values = {"value": value, "updated_at": now or utcnow()}
    stmt = store.insert(cursors).values(name=name, **values).on_conflict_do_update(
        index_elements=["name"], set_=values)
    async with store.write() as conn:
        await conn.execute(stmt)
