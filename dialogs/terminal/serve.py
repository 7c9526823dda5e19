"""`contain serve`: run the Teams bot on HOST:PORT until SIGINT or SIGTERM.

The exposure check runs before anything starts (no sandbox, no store): with no MicrosoftAppId the
bot serves only in sandbox mode on loopback, and says so in its one start-up line.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING

from services.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web

    from dialogs.terminal.cli import Root

log = logging.getLogger("contain")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "serve", help="run the Teams bot (POST /api/messages, GET /healthz)",
        description="Run the Teams bot on HOST:PORT (default 127.0.0.1:3978) until interrupted.",
    )
    # The settings check must come before the runtime is built, so this handler takes settings.
    parser.set_defaults(handler=handler, needs_runtime=False, needs_root=True)


async def handler(args: argparse.Namespace, settings: Settings, root: Root) -> int:
    """Serve until SIGINT/SIGTERM; exit 2 with one sentence when the configuration is unsafe."""
    from dialogs.web import exposure_refusal

    refusal = exposure_refusal(settings)
    if refusal:
        print(f"contain: {refusal}", file=sys.stderr)
        return 2
    async with root.open_runtime(settings) as runtime:
        return await serve(root.create_app(runtime), settings)


async def serve(app: web.Application, settings: Settings, *, stop: asyncio.Event | None = None,
                ready: asyncio.Event | None = None) -> int:
    """Run `app` with aiohttp's AppRunner until `stop` is set or a termination signal arrives."""
    from aiohttp import web

    from dialogs.web import PARTS_KEY, listening_line

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    try:
        try:
            await site.start()
        except OSError as exc:
            print(f"contain: cannot listen on {settings.host}:{settings.port} ({exc.strerror}); "
                  "set HOST/PORT to a free address.", file=sys.stderr)
            return 2
        auth_off = app[PARTS_KEY].auth_off
        # Authentication off is worth a warning: it must be seen even with CONTAIN_LOG_LEVEL=WARNING.
        log.log(logging.WARNING if auth_off else logging.INFO, listening_line(settings, auth_off))
        if ready is not None:
            ready.set()
        await stop.wait()
        return 0
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        await runner.cleanup()
