"""Contain's composition root: settings, tenant clients, store, the bot's aiohttp app, and the
`contain` command line. Nothing else builds real clients; tests swap them here.

    contain serve                 run the Teams bot (sandbox tenant when no tenant is configured)
    contain investigate WHO       investigate an account
    contain remediate WHO ...     run containment actions
    contain score                 Secure Score summary
    contain audit show|verify|export
    contain sandbox serve|reset   the embedded sandbox tenant
    contain doctor                check tokens, permissions, responders group and channel
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from services.runtime import Runtime
from services.settings import Settings, SettingsError, TenantEndpoints, load_settings

log = logging.getLogger("contain")

# Each terminal command lives in its own module exposing `register(subparsers)`; the parser it
# registers sets `handler` to an `async def handler(args, runtime) -> int` (or `needs_runtime=False`
# with `async def handler(args, settings) -> int`).
COMMAND_MODULES = (
    "dialogs.terminal.serve",
    "dialogs.terminal.investigate",
    "dialogs.terminal.remediate",
    "dialogs.terminal.score",
    "dialogs.terminal.audit",
    "dialogs.terminal.doctor",
    "dialogs.terminal.package",
    "sandbox.cli",
)


@asynccontextmanager
async def build_runtime(settings: Settings, *, sandbox_overrides: dict[str, Any] | None = None
                        ) -> AsyncIterator[Runtime]:
    """Build every real client once. In sandbox mode the sandbox tenant runs in this process unless
    CONTAIN_SANDBOX_URL names a running one; either way the services get plain TenantEndpoints."""
    from services.auth import TokenSource
    from services.exchange import ExchangeClient
    from services.graph import build_graph_client
    from services.store.db import Store
    from services.tenant import Tenant

    sandbox: Any = None
    if settings.tenant is not None:
        endpoints: TenantEndpoints = settings.tenant
    elif settings.sandbox_url:
        from sandbox.server import fetch_endpoints

        endpoints = await fetch_endpoints(settings.sandbox_url, home=settings.home)
    else:
        from sandbox.server import SandboxServer

        sandbox = SandboxServer(home=settings.home, fixture=settings.sandbox_fixture,
                                **(sandbox_overrides or {}))
        await sandbox.start()
        endpoints = sandbox.endpoints()

    tokens = TokenSource(endpoints)
    graph = build_graph_client(endpoints, tokens)
    exchange = ExchangeClient(endpoints, tokens)
    store = await Store.open(settings.database_url)
    runtime = Runtime(
        settings=settings,
        endpoints=endpoints,
        tokens=tokens,
        tenant=Tenant(graph=graph, exchange=exchange, endpoints=endpoints),
        exchange=exchange,
        store=store,
        sandbox=sandbox,
    )
    try:
        yield runtime
    finally:
        await store.close()
        await exchange.close()
        if sandbox is not None:
            await sandbox.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contain", description="Contain a compromised Microsoft 365 account.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if not getattr(args, "needs_runtime", True):
        return int(await args.handler(args, settings))
    async with build_runtime(settings) as runtime:
        return int(await args.handler(args, runtime))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `contain` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"contain: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Third-party HTTP loggers would print URLs with UPNs at INFO; keep them quiet.
    for noisy in ("httpx", "httpcore", "msal", "urllib3", "azure"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return asyncio.run(_run(args, settings))
    except SettingsError as exc:
        print(f"contain: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
