import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot import open_store
from services.store.db import MIGRATIONS_DIR, Store
from services.store.schema import metadata


def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


async def test_open_migrates_to_head(store: Store) -> None:
    async with store.read() as conn:
        version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar()
        tables = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
    assert version == _head()
    assert set(metadata.tables) <= tables


async def test_migrations_describe_the_same_schema_as_the_code(store: Store) -> None:
    def diff(sync_conn: sa.Connection) -> list[object]:
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))

    async with store.read() as conn:
        assert await conn.run_sync(diff) == []


async def test_reopening_a_migrated_database_is_harmless(store: Store, db_url: str) -> None:
    again = await open_store(db_url)
    try:
        async with again.read() as conn:
            assert (await conn.execute(sa.text("SELECT count(*) FROM alembic_version"))).scalar() == 1
    finally:
        await again.close()


async def test_sqlite_uses_wal_and_creates_its_directory(tmp_path) -> None:
    path = tmp_path / "deep" / "er" / "contain.db"
    store = await open_store(f"sqlite+aiosqlite:///{path}")
    try:
        async with store.read() as conn:
            assert (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(sa.text("PRAGMA foreign_keys"))).scalar() == 1
        assert path.is_file()
    finally:
        await store.close()


async def test_the_schema_comparison_notices_a_drift(store: Store) -> None:
    drifted = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    sa.Table("cursors", drifted, sa.Column("extra", sa.Integer()), extend_existing=True)

    def diff(sync_conn: sa.Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(sync_conn), drifted))

    async with store.read() as conn:
        changes = await conn.run_sync(diff)
    assert any("extra" in repr(change) for change in changes)
