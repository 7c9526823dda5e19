"""The whole demo stack on free loopback ports: the in-process sandbox tenant, the real bot app, and
two Microsoft 365 Agents Playground processes (Dave's and Erin's, as `make demo` starts them).

Node and the Playground package are prerequisites of `make test` (the Makefile installs the package):
when one is missing the test fails with the reason, it never skips."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bench import demo
from sandbox.teams_connector import ConnectorGuard
from services.runtime import Runtime
from services.settings import load_settings
from tests.e2e.client import PlaygroundClient


@dataclass
class Stack:
    runtime: Runtime
    bot_url: str
    dave: PlaygroundClient
    erin: PlaygroundClient
    guards: list[ConnectorGuard]  # the Teams-limits guard in front of each seat's Playground, in seat order


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Settings for the stack beyond CONTAIN_HOME; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture
async def stack(tmp_path: Path, stack_env: dict[str, str]) -> AsyncIterator[Stack]:
    try:
        demo.node_executable()
    except demo.PlaygroundError as exc:
        pytest.fail(f"The Playground end-to-end test cannot run: {exc}")
    settings = load_settings({"CONTAIN_HOME": str(tmp_path / "home"), **stack_env})
    seats = (demo.Seat("Dave Patel", "dave@contoso.com", demo.free_port()),
             demo.Seat("Erin Novak", "erin@contoso.com", demo.free_port()))
    async with demo.running(settings, seats) as (runtime, bot_url, guards), aiohttp.ClientSession() as session:
        dave = await PlaygroundClient(session, seats[0].url).connect()
        erin = await PlaygroundClient(session, seats[1].url).connect()
        try:
            yield Stack(runtime=runtime, bot_url=bot_url, dave=dave, erin=erin, guards=guards)
        finally:
            await dave.close()
            await erin.close()
