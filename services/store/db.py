"""The Store: one async engine, migrations to head on open, and transaction helpers that behave the
same on SQLite and PostgreSQL.

Writers use `store.write()`. On SQLite that is `BEGIN IMMEDIATE`: the write lock is taken up front,
so a transaction that reads and then writes (the audit chain head, a state guard) cannot be
overtaken between its read and its write. On PostgreSQL rows are locked explicitly where it matters
(`FOR UPDATE [SKIP LOCKED]`, an advisory lock for the audit chain).
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

log = logging.getLogger(__name__)

Connection = AsyncConnection  # the connection a repository function takes inside a transaction

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_WRITE = "contain_write"
# Any constant works; it only has to be the same for every instance sharing the database.
MIGRATION_LOCK_KEY = 0x0C0A7A1E
SQLITE_BUSY_TIMEOUT_MS = 30_000
_ID_ALPHABET = string.ascii_letters + string.digits + "-_"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str, length: int = 10) -> str:
    """An opaque, unguessable id such as `inc_Zq3-8xYb0P`: cards carry these and nothing else."""
    return f"{prefix}_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


class StoreError(RuntimeError):
    """The database could not be opened or migrated; the message is one sentence."""


class Store:
    """Owns the engine. Repository functions in services.store.* take it as `store=`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name
        # For callers who prefer ORM-style sessions; the repositories use Core connections.
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @classmethod
    async def attach(cls, engine: AsyncEngine, *, migrate: bool = True) -> Store:
        """Own `engine` (built by the composition root from `engine_options`) and bring the schema to the
        latest migration (several instances may do this at once). The engine is disposed on failure."""
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)
        store = cls(engine)
        if migrate:
            try:
                await store.migrate()
            except Exception:
                await engine.dispose()
                raise
        return store

    async def revisions(self) -> set[str]:
        """The migration revisions the database is at (alembic_version)."""
        async with self.read() as conn:
            return set((await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars())

    async def close(self) -> None:
        await self.engine.dispose()

    async def migrate(self, revision: str = "head") -> None:
        """Run Alembic to `revision` on this engine. On PostgreSQL an advisory lock keeps two starting
        instances from migrating at once; on SQLite the immediate transaction does the same."""
        from alembic import command
        from alembic.config import Config

        def _upgrade(sync_conn: sa.Connection) -> None:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, revision)

        # Alembic narrates every step at INFO; a CLI command should not print that each time it opens the store.
        alembic_log = logging.getLogger("alembic")
        if alembic_log.level == logging.NOTSET:
            alembic_log.setLevel(logging.WARNING)
        async with self.write() as conn:
            if self.is_postgres:
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            await conn.run_sync(_upgrade)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction (committed on exit; nothing should be written through it)."""
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on normal exit, rolled back on an exception. Keep it short."""
        async with self.engine.connect() as conn:
            await conn.execution_options(**{_WRITE: True})
            async with conn.begin():
                yield conn

    def insert(self, table: sa.Table) -> Any:
        """A dialect-specific INSERT that supports `.on_conflict_do_nothing()`."""
        return postgresql.insert(table) if self.is_postgres else sqlite.insert(table)


def is_write_connection(conn: AsyncConnection | sa.Connection) -> bool:
    sync = conn.sync_connection if isinstance(conn, AsyncConnection) else conn
    return bool(sync is not None and sync.get_execution_options().get(_WRITE))


def engine_options(url: str) -> dict[str, Any]:
    """What `create_async_engine(url, **options)` needs for the store; StoreError for any other database.
    A SQLite file's folder is created here."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if parsed.get_backend_name() == "postgresql":
        return {"pool_pre_ping": True}
    raise StoreError("The database URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://.")


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take BEGIN away from the driver so SQLAlchemy's BEGIN below is the only one (see the
        # SQLAlchemy SQLite docs, "Enabling Non-Legacy SQLite Transactional Modes").
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # WAL: readers never block the writer, and the writer never blocks readers.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")
