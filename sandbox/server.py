"""The sandbox tenant: Graph v1.0 and Exchange Online InvokeCommand on http://127.0.0.1:{port}, the
identity platform on https://127.0.0.1:{login_port} (self-signed CA under {home}/sandbox/tls/).

    server = SandboxServer(home=home)
    await server.start()
    endpoints = server.endpoints()   # what the services need, exactly as for a real tenant
    ...
    await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from sandbox.app import build_app
from sandbox.auth import Authority
from sandbox.faults import FaultInjector
from sandbox.propagation import Propagation
from sandbox.records import RequestRecord, WriteJournal, WriteRecord
from sandbox.state import TenantState
from sandbox.tls import ensure_key_material
from services.settings import SettingsError, TenantEndpoints

log = logging.getLogger("contain.sandbox")
_MAX_REQUEST_LOG = 100_000


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SandboxServer:
    def __init__(self, *, home: Path, fixture: Path | None = None, persist: bool = True,
                 faults: dict[str, Any] | None = None, latency_ms: float = 0.0, keep_bodies: bool = False) -> None:
        self.home = Path(home)
        self.folder = self.home / "sandbox"
        self.persist = persist
        self.keep_bodies = keep_bodies  # request log entries carry request and answer bodies (tests)
        self.keys = ensure_key_material(self.home)
        self.state = TenantState(fixture=fixture, state_file=self.folder / "state.json" if persist else None)
        self.faults = FaultInjector(faults, latency_ms=latency_ms)
        self.propagation = Propagation()
        self.authority = Authority(self)
        self.write_log: list[WriteRecord] = []
        self.request_log: list[RequestRecord] = []
        self._journal = WriteJournal(self.folder / "writes.jsonl" if persist else None)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.host = "127.0.0.1"
        self.port = 0
        self.login_port = 0

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self, *, host: str = "127.0.0.1", port: int = 0, login_port: int = 0) -> None:
        if not is_loopback(host):
            raise ValueError(f"The sandbox only listens on loopback, not {host}.")
        self.host = host
        self._runner = web.AppRunner(build_app(self), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        plain = web.TCPSite(self._runner, host, port)
        await plain.start()
        tls = web.TCPSite(self._runner, host, login_port, ssl_context=self.keys.server_ssl_context())
        await tls.start()
        self.port = _bound_port(plain)
        self.login_port = _bound_port(tls)
        for entry in self.state.data.get("schedule", []):
            self._tasks.append(asyncio.create_task(self._scheduled(entry)))
        log.info("sandbox tenant listening on %s (login %s)", self.url, self.login_port)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _scheduled(self, entry: dict[str, Any]) -> None:
        from sandbox.admin import raise_alert

        await asyncio.sleep(float(entry.get("afterS", 0)))
        try:
            raise_alert(self, entry.get("alert", {}))
        except ValueError:
            log.warning("sandbox schedule entry ignored: %s", entry)

    # -- what clients need -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def login_url(self) -> str:
        return f"https://{self.host}:{self.login_port}"

    def endpoints(self) -> TenantEndpoints:
        app = self.state.default_app
        tid = self.state.tenant_id
        return TenantEndpoints(tenant_id=tid, client_id=app["clientId"], client_secret=app.get("clientSecret"),
                               authority=f"{self.login_url}/{tid}", graph_url=self.url, exchange_url=self.url,
                               ca_bundle=self.keys.ca_pem)

    def info(self) -> dict[str, Any]:
        app = self.state.default_app
        return {"tenantId": self.state.tenant_id, "tenantDomain": self.state.tenant["defaultDomain"],
                "clientId": app["clientId"], "clientSecret": app.get("clientSecret"),
                "authority": f"{self.login_url}/{self.state.tenant_id}", "graphUrl": self.url,
                "exchangeUrl": self.url, "caPem": self.keys.ca_pem.read_text(),
                "respondersGroupId": self.state.tenant.get("respondersGroupId"),
                "cliClientId": next((a["clientId"] for a in self.state.data["apps"] if a.get("isFallbackPublicClient")),
                                    None),
                "schemaVersion": self.state.data["schemaVersion"]}

    # -- state and logs --------------------------------------------------------------------------
    def reset(self) -> None:
        """Restore the fixture and forget the logs (the on-disk write journal too)."""
        self.state.reset()
        self.propagation.clear()
        self.write_log.clear()
        self.request_log.clear()
        self._journal.clear()

    def record_write(self, *, method: str, route: str, target: str | None, body: Any, request_id: str,
                     status: int = 200) -> None:
        record = WriteRecord(method=method, route=route, target=target, body=body,
                             time=datetime.now(UTC).isoformat(), request_id=request_id, status=status)
        self.write_log.append(record)
        self._journal.append(record)
        self.state.save()

    def log_request(self, record: RequestRecord) -> None:
        self.request_log.append(record)
        if len(self.request_log) > _MAX_REQUEST_LOG:
            del self.request_log[: len(self.request_log) - _MAX_REQUEST_LOG]


def _bound_port(site: web.TCPSite) -> int:
    server = site._server  # aiohttp keeps the asyncio server here; port 0 means "pick one"
    assert server is not None
    return int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]


async def fetch_endpoints(url: str, *, home: Path) -> TenantEndpoints:
    """Endpoints of a sandbox started elsewhere (`contain sandbox serve`): its CA is written under home."""
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.get(f"{url.rstrip('/')}/_sandbox/info")
            response.raise_for_status()
            info = response.json()
    except (httpx.HTTPError, ValueError):
        raise SettingsError(f"CONTAIN_SANDBOX_URL points to {url}, where no sandbox tenant answers.") from None
    ca = Path(home) / "sandbox" / "remote-ca.pem"
    ca.parent.mkdir(parents=True, exist_ok=True)
    ca.write_text(info["caPem"])
    return TenantEndpoints(tenant_id=info["tenantId"], client_id=info["clientId"], client_secret=info["clientSecret"],
                           authority=info["authority"], graph_url=info["graphUrl"], exchange_url=info["exchangeUrl"],
                           ca_bundle=ca)
