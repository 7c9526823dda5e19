from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.runtime import Runtime
from services.settings import load_settings
from tests.services.tenant.helpers import FABRIKAM


@pytest.fixture
async def fabrikam(tmp_path: Path) -> AsyncIterator[Runtime]:
    """The real composition root over the second sandbox tenant (fabrikam.com)."""
    from bot import build_runtime

    settings = load_settings({"CONTAIN_HOME": str(tmp_path / "fabrikam"), "CONTAIN_SANDBOX_FIXTURE": str(FABRIKAM)})
    async with build_runtime(settings) as rt:
        yield rt
