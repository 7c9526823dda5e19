"""The `contain` command line: the parser, logging, and running one command with the runtime the
composition root (bot.py) opens.

Each terminal command lives in its own module exposing `register(subparsers)`; the parser it registers
sets `handler` to an `async def handler(args, runtime) -> int`, or with `needs_runtime=False` to
`async def handler(args, settings) -> int`, or with `needs_root=True` to
`async def handler(args, settings, root) -> int` (serve: it checks the settings before anything starts).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.runtime import Runtime
from services.settings import Settings, SettingsError, load_settings

COMMAND_MODULES = (
    "dialogs.terminal.serve",
    "dialogs.terminal.investigate",
    "dialogs.terminal.remediate",
    "dialogs.terminal.decide",
    "dialogs.terminal.signin",
    "dialogs.terminal.score",
    "dialogs.terminal.audit",
    "dialogs.terminal.doctor",
    "dialogs.terminal.package",
    "sandbox.cli",
)

if TYPE_CHECKING:
    from aiohttp import web


@dataclass(frozen=True, slots=True)
class Root:
    """What the composition root lends a command: opening the runtime, and the bot's app over it."""

    open_runtime: Callable[[Settings], AbstractAsyncContextManager[Runtime]]
    create_app: Callable[[Runtime], web.Application]


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contain", description="Contain a compromised Microsoft 365 account.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


async def _run(args: argparse.Namespace, settings: Settings, root: Root) -> int:
    if getattr(args, "needs_root", False):
        return int(await args.handler(args, settings, root))
    if not getattr(args, "needs_runtime", True):
        return int(await args.handler(args, settings))
    async with root.open_runtime(settings) as runtime:
        return int(await args.handler(args, runtime))


def main(argv: list[str] | None, root: Root) -> int:
    """Parse `argv`, load the settings, run the command; the exit status."""
    cli = parser()
    args = cli.parse_args(argv)
    if not getattr(args, "handler", None):
        cli.print_help()
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"contain: {exc}", file=sys.stderr)
        return 2
    # A terminal command prints its own result; its logs stay quiet unless CONTAIN_LOG_LEVEL asks.
    level = settings.log_level if args.command == "serve" or "CONTAIN_LOG_LEVEL" in os.environ else "WARNING"
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Third-party HTTP loggers would print URLs with UPNs at INFO; keep them quiet.
    for noisy in ("httpx", "httpcore", "msal", "urllib3", "azure", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return asyncio.run(_run(args, settings, root))
    except SettingsError as exc:
        print(f"contain: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`contain … | head`): nothing left to say, and nothing failed here.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # keeps the interpreter's final flush quiet
        return 0
