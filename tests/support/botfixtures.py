"""Fixtures for tests that drive the real aiohttp bot app: a recording connector, the OpenID
stand-in, and a client factory building the app through bot.create_app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.runtime import Runtime
from services.settings import Settings, load_settings
from tests.support import botauth
from tests.support.connector import RecordingConnector

ClientFactory = Callable[..., Awaitable[TestClient]]


def bare_runtime(settings: Settings) -> Runtime:
    """A Runtime with only settings: the transport layer needs nothing else (no tenant, no store)."""
    return Runtime(settings=settings, endpoints=None, tokens=None, tenant=None, writer=None,  # type: ignore[arg-type]
                   exchange=None, store=None)  # type: ignore[arg-type]


def sandbox_settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"CONTAIN_HOME": str(tmp_path / "home"), **env})


def secured_settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"CONTAIN_HOME": str(tmp_path / "home"), "MicrosoftAppId": botauth.APP_ID,
                          "MicrosoftAppPassword": botauth.APP_PASSWORD,
                          "MicrosoftAppTenantId": botauth.TENANT_ID, **env})


@pytest.fixture(scope="session")
def openid() -> Iterator[botauth.OpenIdStandIn]:
    stand_in = botauth.OpenIdStandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture
async def connector() -> AsyncIterator[RecordingConnector]:
    recording = await RecordingConnector().start()
    yield recording
    await recording.stop()


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    """make_client(settings, adapter=None, router=None) -> TestClient for bot.create_app."""
    from bot import create_app

    clients: list[TestClient] = []

    async def make(settings: Settings, *, adapter: Any = None, router: Any = None) -> TestClient:
        app = create_app(bare_runtime(settings), adapter=adapter, router=router)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def sandbox_client(tmp_path: Path, make_client: ClientFactory) -> TestClient:
    """The bot with authentication off (sandbox mode on loopback), the Playground's configuration."""
    return await make_client(sandbox_settings(tmp_path))


@pytest.fixture
async def secured_client(tmp_path: Path, make_client: ClientFactory, openid: botauth.OpenIdStandIn) -> TestClient:
    """The bot with MicrosoftAppId/Password/TenantId set, validating tokens against the stand-in."""
    settings = secured_settings(tmp_path)
    return await make_client(settings, adapter=botauth.offline_adapter(settings, openid))
