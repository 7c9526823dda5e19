"""Two bot instances on one PostgreSQL database and one sandbox tenant, as in production: each
instance is the real app built by bot.create_app (its own runtime, store engine, worker and CONTAIN_HOME),
both reach the sandbox at CONTAIN_SANDBOX_URL, and the recording Bot Connector sees what both post."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import open_store
from sandbox.server import SandboxServer
from tests.services.store.databases import empty, pg_database_url
from tests.support.botfixtures import connector
from tests.support.connector import RecordingConnector
from tests.support.flowbot import FlowBot

__all__ = ["connector", "pg_database_url"]


@dataclass
class Pair:
    a: FlowBot
    b: FlowBot
    sandbox: SandboxServer
    connector: RecordingConnector
    database_url: str

    async def settle(self) -> None:
        """Run both instances until neither has anything left (each instance's worker may take any request)."""
        for _ in range(3):
            await self.a.settle()
            await self.b.settle()

    async def start_instance(self, folder: Path) -> FlowBot:
        return await FlowBot.start(folder, self.connector, CONTAIN_DATABASE_URL=self.database_url,
                                   CONTAIN_SANDBOX_URL=self.sandbox.url)


@pytest.fixture
async def pair(tmp_path: Path, connector: RecordingConnector, pg_database_url: str) -> AsyncIterator[Pair]:
    store = await open_store(pg_database_url)
    await empty(store)  # the database is shared by the session
    await store.close()
    sandbox = SandboxServer(home=tmp_path / "sandbox", persist=False)
    await sandbox.start()
    started: list[FlowBot] = []
    try:
        pair = Pair(a=None, b=None, sandbox=sandbox, connector=connector, database_url=pg_database_url)  # type: ignore[arg-type]
        pair.a = await pair.start_instance(tmp_path / "a")
        started.append(pair.a)
        pair.b = await pair.start_instance(tmp_path / "b")
        started.append(pair.b)
        yield pair
    finally:
        for bot in started:
            await bot.close()
        await sandbox.stop()
