"""Conversation references the bot needs to post proactively (channel threads, 1:1 chats)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from services.store.db import Store, utcnow
from services.store.schema import conversation_refs


class ConversationKind(StrEnum):
    CHANNEL = "channel"
    PERSONAL = "personal"
    GROUP = "group"


# Where alert threads go: the channel a responder chose with `/compromised set-channel`.
SECURITY_CHANNEL_KEY = "channel:security"


async def save(store: Store, *, key: str, kind: ConversationKind | str, reference: dict[str, Any],
               team_id: str | None = None, now: datetime | None = None) -> None:
    """Insert or replace the reference stored under `key` (a conversation id or a user's AAD id)."""
    values = {"kind": ConversationKind(kind).value, "team_id": team_id, "reference": reference,
              "updated_at": now or utcnow()}
    stmt = store.insert(conversation_refs).values(key=key, **values)
    async with store.write() as conn:
        await conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_=values))


async def get(store: Store, *, key: str) -> dict[str, Any] | None:
    async with store.read() as conn:
        return (await conn.execute(
            sa.select(conversation_refs.c.reference).where(conversation_refs.c.key == key)
        )).scalar()


async def list_refs(store: Store, *, kind: ConversationKind | None = None) -> list[dict[str, Any]]:
    """Rows as dicts (key, kind, team_id, reference, updated_at), newest first."""
    query = sa.select(conversation_refs).order_by(conversation_refs.c.updated_at.desc())
    if kind is not None:
        query = query.where(conversation_refs.c.kind == kind.value)
    async with store.read() as conn:
        return [dict(r) for r in (await conn.execute(query)).mappings().all()]
