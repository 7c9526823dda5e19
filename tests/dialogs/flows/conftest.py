"""Fixtures for the conversation-flow scenarios: the real app, the real sandbox, a recording connector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.botfixtures import connector  # noqa: F401  (fixture)
from tests.support.connector import RecordingConnector
from tests.support.flowbot import FlowBot


@pytest.fixture
async def bot(tmp_path: Path, connector: RecordingConnector) -> AsyncIterator[FlowBot]:  # noqa: F811
    harness = await FlowBot.start(tmp_path, connector)
    yield harness
    await harness.close()
