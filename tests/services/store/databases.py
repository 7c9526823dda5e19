"""Database fixtures shared by the store and approval tests: every test runs on a SQLite file and on
PostgreSQL. The PostgreSQL database is created once per session and emptied before each test.

PostgreSQL must be reachable at 127.0.0.1:5432 (CI starts it): if it is not, these tests fail,
they never skip.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from bot import open_store
from services.store.db import Store
from services.store.schema import ALL_TABLES

PG_HOST = os.environ.get("CONTAIN_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CONTAIN_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CONTAIN_TEST_PG_USER", "postgres")

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def _admin(sql: str) -> None:
    try:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT} ({exc}); start it (see .ci/run).",
                    pytrace=False)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    name = f"contain_test_{secrets.token_hex(5)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store' / 'contain.db'}"
    return str(request.getfixturevalue("pg_database_url"))


async def empty(store: Store) -> None:
    # DELETE rather than TRUNCATE: on tables this small it is ten times faster on PostgreSQL.
    async with store.write() as conn:
        for table in ALL_TABLES:
            await conn.execute(table.delete())


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    opened = await open_store(db_url)
    await empty(opened)  # the PostgreSQL database is shared by the session
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def second_store(db_url: str, store: Store) -> AsyncIterator[Store]:
    """Another engine on the same database: a second bot instance."""
    other = await open_store(db_url)
    try:
        yield other
    finally:
        await other.close()
