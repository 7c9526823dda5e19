"""Shared by the real-tenant tests: the second fixture's runtime, an investigation, and changing what the
sandbox app is granted (Graph permissions or Exchange roles) through the sandbox's admin route."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from services.findings.investigation import investigate_query
from services.runtime import Runtime
from services.vocabulary import Investigation

REPO = Path(__file__).resolve().parents[3]
FABRIKAM = REPO / "sandbox" / "fixtures" / "fabrikam.json"


async def investigate(runtime: Runtime, who: str) -> Investigation:
    result = await investigate_query(tenant=runtime.tenant, query=who)
    assert isinstance(result, Investigation), result
    return result


async def grant(runtime: Runtime, **change: Any) -> None:
    """POST /_sandbox/apps/{app}/permissions: add/remove permissions or Exchange roles of the app."""
    app = runtime.sandbox.state.default_app["clientId"]
    async with httpx.AsyncClient(trust_env=False) as client:
        resp = await client.post(f"{runtime.sandbox.url}/_sandbox/apps/{app}/permissions", json=change)
        assert resp.status_code == 200, resp.text
