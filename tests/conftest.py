"""Shared fixtures: a sandbox tenant on loopback and a Runtime built by the real composition root.

Every test gets its own CONTAIN_HOME under tmp_path, so sandbox state and the store never leak
between tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.runtime import Runtime
from services.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "tests" / "schemas"  # vendored copies, see tests/schemas/README.md


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Sandbox-mode settings with a private home."""
    return load_settings({"CONTAIN_HOME": str(tmp_path / "home")})


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The real composition root: in-process sandbox, MSAL, msgraph-sdk, the Exchange client, the store."""
    from bot import build_runtime

    async with build_runtime(settings) as rt:
        yield rt
