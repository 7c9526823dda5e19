"""A sandbox tenant on loopback per test, and plain HTTP clients that speak to it the way Graph and
Exchange Online clients do (tokens from its https token endpoint)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.server import SandboxServer

ALICE = "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"
BOB = "b0b5e1d2-2c4d-4e6f-8a1b-7c9d0e2f4a62"
CAROL = "ca201a5e-3d5e-4f70-9b2c-8d0e1f3a5b73"
FRANK = "f2a4d6e8-6081-42a3-8e5f-1a3b4c6d8ea6"
RESPONDERS = "0d3f7c2a-6e1b-4a59-b8c4-2f7e9d1a3b60"
GLOBAL_ADMIN_ROLE = "7b1c9e3a-2d4f-4e6b-8a5c-0f9d7e3b1a26"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
EXO_SCOPE = "https://outlook.office365.com/.default"


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[SandboxServer]:
    server = SandboxServer(home=tmp_path / "home")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def token(server: SandboxServer, scope: str = GRAPH_SCOPE, secret: str | None = None) -> httpx.Response:
    ep = server.endpoints()
    trusted = ssl.create_default_context(cafile=str(ep.ca_bundle))
    async with httpx.AsyncClient(verify=trusted, trust_env=False) as client:
        return await client.post(f"{ep.authority}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": ep.client_id,
            "client_secret": secret if secret is not None else ep.client_secret, "scope": scope})


class Tenant:
    """Graph and InvokeCommand calls with a valid token, for tests that are not about auth."""

    def __init__(self, server: SandboxServer, client: httpx.AsyncClient, graph_token: str, exo_token: str) -> None:
        self.server = server
        self.client = client
        self.graph_token = graph_token
        self.exo_token = exo_token

    async def graph(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.graph_token}", **kwargs.pop("headers", {})}
        url = path if path.startswith("http") else f"{self.server.url}/v1.0{path}"
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def exo(self, cmdlet: str, parameters: dict[str, Any] | None = None, *, anchor: bool = True,
                  url: str | None = None) -> httpx.Response:
        tid = self.server.state.tenant_id
        headers = {"Authorization": f"Bearer {self.exo_token}"}
        if anchor:
            headers["X-AnchorMailbox"] = f"APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{tid}"
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters or {}}}
        return await self.client.post(url or f"{self.server.url}/adminapi/beta/{tid}/InvokeCommand", json=body,
                                      headers=headers)

    async def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, f"{self.server.url}/_sandbox{path}", **kwargs)


@pytest.fixture
async def tenant(sandbox: SandboxServer) -> AsyncIterator[Tenant]:
    graph_token = (await token(sandbox)).json()["access_token"]
    exo_token = (await token(sandbox, EXO_SCOPE)).json()["access_token"]
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        yield Tenant(sandbox, client, graph_token, exo_token)
