"""Contain's composition root: the only place that builds the Graph client, the Exchange client, the
store's engine and the Bot Framework adapter. Everything else is handed what it needs from here.

    python bot.py                 run the Teams bot (as `contain serve`)
    contain serve                 run the Teams bot (sandbox tenant when no tenant is configured)
    contain investigate WHO       investigate an account
    contain remediate WHO ...     run containment actions (as the signed-in responder)
    contain approve|reject REQ    decide on a request that waits for a second responder
    contain login|logout|whoami   sign in once as yourself (device code flow)
    contain score                 Secure Score summary
    contain audit show|verify|export
    contain sandbox serve|reset   the embedded sandbox tenant
    contain doctor                check tokens, permissions, responders group and channel
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from services.runtime import Runtime, Tuning
from services.settings import Settings, TenantEndpoints

if TYPE_CHECKING:
    from aiohttp import web
    from botbuilder.integration.aiohttp import CloudAdapter

    from dialogs.router import Router
    from sandbox.server import SandboxServer
    from services.store.db import Store

log = logging.getLogger("contain")


async def open_store(url: str, *, migrate: bool = True) -> Store:
    """The store on its own engine, migrated to the latest revision."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from services.store.db import Store, engine_options

    return await Store.attach(create_async_engine(url, **engine_options(url)), migrate=migrate)


@asynccontextmanager
async def build_runtime(settings: Settings, *, sandbox_overrides: dict[str, Any] | None = None,
                        tuning: Tuning | None = None) -> AsyncIterator[Runtime]:
    """Build every real client once. In sandbox mode the sandbox tenant runs in this process unless
    CONTAIN_SANDBOX_URL names a running one; either way the services get plain TenantEndpoints.

    Reads go through clients that retry 429/503/504; writes through clients that send each request once
    and retry only 429 (services.actions.writer explains why)."""
    from msgraph import GraphServiceClient

    from services.actions.writer import WriteTenant, write_transport
    from services.tenant.auth import TokenSource
    from services.tenant.exchange import ExchangeClient
    from services.tenant.facade import Tenant
    from services.tenant.graph import graph_request_adapter, graph_transport
    from services.tenant.retry import RetryPolicy

    sandbox: SandboxServer | None = None
    if settings.tenant is not None:
        endpoints: TenantEndpoints = settings.tenant
    elif settings.sandbox_url:
        from sandbox.server import fetch_endpoints

        endpoints = await fetch_endpoints(settings.sandbox_url, home=settings.home)
    else:
        from sandbox.server import SandboxServer

        sandbox = SandboxServer(home=settings.home, fixture=settings.sandbox_fixture, **(sandbox_overrides or {}))
        await sandbox.start()
        endpoints = sandbox.endpoints()

    tokens = TokenSource(endpoints)
    exchange = ExchangeClient(endpoints, tokens)
    tenant = Tenant(graph=GraphServiceClient(request_adapter=graph_request_adapter(endpoints, tokens)),
                    exchange=exchange, endpoints=endpoints)
    write_graph = GraphServiceClient(request_adapter=graph_request_adapter(
        endpoints, tokens, transport=write_transport(graph_transport(endpoints)), max_retries=0))
    write_exchange = ExchangeClient(endpoints, tokens, policy=RetryPolicy(max_retries=0),
                                    transport=write_transport(graph_transport(endpoints)))
    writer = WriteTenant(graph=write_graph, exchange=write_exchange, endpoints=endpoints)
    store = await open_store(settings.database_url)
    runtime = Runtime(settings=settings, endpoints=endpoints, tokens=tokens, tenant=tenant, writer=writer,
                      exchange=exchange, store=store, sandbox=sandbox, tuning=tuning or Tuning())
    try:
        yield runtime
    finally:
        await store.close()
        await writer.close()
        await write_exchange.close()
        await tenant.close()
        await exchange.close()
        if sandbox is not None:
            await sandbox.stop()


def build_adapter(settings: Settings, *, credentials_factory: Any = None, **endpoints: str) -> CloudAdapter:
    """CloudAdapter with Bot Framework authentication configured from settings. Extra keyword arguments
    override its endpoints (tests point token validation at a local OpenID stand-in)."""
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    from dialogs.botauth import BotAuthConfig, reusing_clients

    auth = ConfigurationBotFrameworkAuthentication(
        BotAuthConfig(settings, **endpoints), credentials_factory=credentials_factory, logger=log
    )
    return CloudAdapter(reusing_clients(auth))


def create_app(runtime: Runtime, *, adapter: CloudAdapter | None = None, router: Router | None = None,
               install_flows: bool | None = None) -> web.Application:
    """The bot's aiohttp app (dialogs.web) over `runtime`, with the adapter built from settings unless
    one is given. A router passed in is used as given unless install_flows=True."""
    from dialogs import web as bot_web
    from services.settings import SettingsError

    refusal = bot_web.exposure_refusal(runtime.settings)
    if refusal:  # before the adapter: nothing is built for a configuration that must not serve
        raise SettingsError(refusal)
    return bot_web.create_app(runtime, adapter=adapter if adapter is not None else build_adapter(runtime.settings),
                              router=router, install=install_flows)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `contain` console script."""
    from dialogs.terminal import cli

    return cli.main(argv, cli.Root(open_runtime=build_runtime, create_app=create_app))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["serve"]))
