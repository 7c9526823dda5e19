"""Fixtures for alert intake: a signed-delivery helper and a runtime whose sandbox has many accounts."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.alerts.webhook import sign
from services.runtime import Runtime
from services.settings import load_settings
from tests.services.alerts.workload import write_fixture

SECRET = "whsec-alerts-test"
Signed = tuple[dict[str, str], bytes]


def signed(body: dict[str, Any] | bytes, *, ts: float | None = None, secret: str = SECRET) -> Signed:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(ts if ts is not None else time.time()))
    return {"X-Contain-Timestamp": stamp, "X-Contain-Signature": sign(secret, stamp, raw)}, raw


def alert_body(alert_id: str, account: str = "alice@contoso.com", **extra: Any) -> dict[str, Any]:
    return {"alert_id": alert_id, "source": "siem", "account": account, "severity": "high",
            "title": "Impossible travel", **extra}


@pytest.fixture
def raise_alert(runtime: Runtime) -> Callable[..., Any]:
    """Raise an alert through the sandbox's admin endpoint, as the demo does."""
    async def _raise(user: str, *, kind: str = "defender", severity: str = "high") -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=runtime.sandbox.url) as client:
            response = await client.post("/_sandbox/alerts", json={"user": user, "kind": kind, "severity": severity})
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]
    return _raise


@pytest.fixture
async def crowd_runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    """The real composition root over a sandbox with 50 extra accounts (flagged001@… to flagged050@…)."""
    from bot import build_runtime

    fixture = write_fixture(tmp_path / "crowd.json", 50)
    settings = load_settings({"CONTAIN_HOME": str(tmp_path / "home"), "CONTAIN_SANDBOX_FIXTURE": str(fixture)})
    async with build_runtime(settings, sandbox_overrides={"persist": False}) as rt:
        yield rt
