"""The command line as an operator meets it: `contain login` through MSAL's device code flow against the
sandbox's identity platform (the browser side played through the sandbox's admin API), then commands
through their real handlers on the real runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dialogs.terminal.cli import parser
from services.runtime import Runtime
from tests.support.botfixtures import connector  # noqa: F401  (fixture)
from tests.support.connector import RecordingConnector
from tests.support.flowbot import FlowBot

DAVE = "dave@contoso.com"  # responder
ERIN = "erin@contoso.com"  # responder
FRANK = "frank@contoso.com"  # responder through a nested group
BOB = "bob@contoso.com"  # not a responder
CAROL = "carol@contoso.com"  # holds an admin role


async def cli(runtime: Any, *argv: str) -> int:
    args = parser().parse_args(list(argv))
    return int(await args.handler(args, runtime))


async def login(runtime: Any, upn: str) -> int:
    """Sign `upn` in the way an operator does in sandbox mode: the real device code flow, polled by MSAL."""
    return await cli(runtime, "login", "--sandbox-user", upn)


@pytest.fixture
def fast_polling(runtime: Runtime) -> Runtime:
    """Entra answers interval 5; MSAL sleeps that long between polls. One second keeps tests quick."""
    runtime.sandbox.authority.device_codes.interval_s = 1
    return runtime


@pytest.fixture
async def bot(tmp_path: Path, connector: RecordingConnector) -> AsyncIterator[FlowBot]:  # noqa: F811
    """The Teams bot over the same runtime the command line uses (one store, one sandbox tenant)."""
    harness = await FlowBot.start(tmp_path, connector)
    yield harness
    await harness.close()
