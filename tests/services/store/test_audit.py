import asyncio
import itertools
import json

import pytest
import sqlalchemy as sa

from bot import open_store
from services.store import audit
from services.store.db import Store
from services.store.schema import audit_log
from tests.services.store.helpers import DANA, EVAN


async def _append(store: Store, n: int, *, incident_id: str | None = None, actor=DANA) -> None:
    for i in range(n):
        await audit.record(store, actor=actor, event="request.confirmed", target="alice@contoso.com",
                           outcome="approved", incident_id=incident_id, detail=f"row {i}",
                           request_ids=[f"graph-{i}"])


async def test_an_untouched_chain_verifies(store: Store) -> None:
    assert (await audit.verify(store)).ok  # empty is intact too
    await _append(store, 12)
    result = await audit.verify(store)
    assert result.ok and result.rows == 12
    assert result.message == "Audit chain intact: 12 rows."
    entries = await audit.recent(store, limit=100)
    assert [e.seq for e in entries] == list(range(1, 13))
    assert entries[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))


async def test_changing_one_byte_of_one_row_names_that_row(store: Store) -> None:
    await _append(store, 10)
    async with store.write() as conn:
        await conn.execute(sa.text("UPDATE audit_log SET detail = 'row X' WHERE seq = 7"))
    result = await audit.verify(store)
    assert not result.ok
    assert result.first_broken_seq == 7
    assert result.message.startswith("Audit chain broken at row 7: ")


@pytest.mark.parametrize("column, value", [("actor_name", "Someone Else"), ("outcome", "failed"),
                                           ("hash", "f" * 64), ("event", "action.reset_passworD")])
async def test_any_field_is_covered_by_the_hash(store: Store, column: str, value: str) -> None:
    await _append(store, 5)
    async with store.write() as conn:
        await conn.execute(audit_log.update().where(audit_log.c.seq == 3).values({column: value}))
    assert (await audit.verify(store)).first_broken_seq == 3


async def test_a_removed_row_is_named(store: Store) -> None:
    await _append(store, 6)
    async with store.write() as conn:
        await conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 4"))
    result = await audit.verify(store)
    assert (result.ok, result.first_broken_seq) == (False, 4)
    assert "missing" in result.reason


async def test_concurrent_writers_on_two_engines_keep_one_chain(store: Store, second_store: Store) -> None:
    async def writer(s: Store, who: int) -> None:
        for i in range(10):
            await audit.record(s, actor=DANA if who % 2 else EVAN, event="action.revoke_sessions",
                               target="alice@contoso.com", outcome="succeeded", detail=f"writer {who} row {i}")

    await asyncio.gather(*(writer(store if w % 2 else second_store, w) for w in range(8)))
    result = await audit.verify(store)
    assert result.ok, result.message
    assert result.rows == 80
    entries = await audit.recent(second_store, limit=1000)
    assert [e.seq for e in entries] == list(range(1, 81))
    assert len({e.hash for e in entries}) == 80


async def test_a_password_never_reaches_the_audit_log(store: Store) -> None:
    temp = "Xq7!vR2#pLm9@wZ4"
    await audit.record(store, actor=DANA, event="action.reset_password", target="alice@contoso.com",
                       outcome="succeeded", detail=f"Password reset; temporary password: {temp}")
    await audit.record(store, actor=DANA, event="action.reset_password", target=f"token={temp}", outcome="succeeded")
    lines = [json.dumps(row) async for row in audit.export(store)]
    assert lines and not any(temp in line for line in lines)
    assert "temporary password: [redacted]" in lines[0]
    assert (await audit.verify(store)).ok


async def test_export_filters_by_incident_and_keeps_the_hashes(store: Store) -> None:
    await _append(store, 3, incident_id="inc_aaaaaaaaaa")
    await _append(store, 2, incident_id="inc_bbbbbbbbbb")
    rows = [row async for row in audit.export(store, incident_id="inc_bbbbbbbbbb")]
    assert [r["seq"] for r in rows] == [4, 5]
    assert {r["incident_id"] for r in rows} == {"inc_bbbbbbbbbb"}
    assert rows[0]["request_ids"] == ["graph-0"] and len(rows[0]["hash"]) == 64
    assert rows[0]["at"].endswith("Z")
    shown = await audit.recent(store, incident_id="inc_aaaaaaaaaa", limit=2)
    assert [e.seq for e in shown] == [2, 3]


async def test_append_refuses_a_read_transaction_on_sqlite(tmp_path) -> None:
    # PostgreSQL serialises appends with an advisory lock; SQLite relies on the immediate write lock.
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    try:
        async with store.read() as conn:
            with pytest.raises(RuntimeError, match="write transaction"):
                await audit.append(conn, actor=DANA, event="x")
    finally:
        await store.close()


def test_the_audit_module_offers_no_way_to_change_a_row() -> None:
    public = {name for name in dir(audit) if not name.startswith("_")}
    assert not {n for n in public if any(w in n for w in ("update", "delete", "remove", "edit", "truncate"))}
