"""`contain sandbox serve|reset`: run the sandbox tenant on loopback, or restore its fixture on disk."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from services.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("sandbox",
                                   help="the embedded sandbox tenant (Graph and Exchange Online on loopback)")
    verbs = parser.add_subparsers(dest="sandbox_command", metavar="VERB")
    serve = verbs.add_parser("serve", help="run the sandbox tenant until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5050, help="Graph and Exchange port (default 5050)")
    serve.add_argument("--login-port", type=int, default=5051, help="https token endpoint port (default 5051)")
    serve.add_argument("--fixture", type=Path, help="tenant fixture JSON (default: CONTAIN_SANDBOX_FIXTURE or contoso)")
    serve.add_argument("--faults", type=Path, help="fault rules JSON (default: CONTAIN_SANDBOX_FAULTS)")
    serve.add_argument("--latency-ms", type=float, default=0.0, help="added round trip per Graph/Exchange request")
    serve.set_defaults(handler=serve_command, needs_runtime=False)
    reset = verbs.add_parser("reset", help="restore the sandbox tenant's fixture and clear its write log")
    reset.add_argument("--fixture", type=Path, help="tenant fixture JSON (default: CONTAIN_SANDBOX_FIXTURE or contoso)")
    reset.set_defaults(handler=reset_command, needs_runtime=False)
    parser.set_defaults(handler=_usage(parser), needs_runtime=False)


def _usage(parser: argparse.ArgumentParser) -> Any:
    async def handler(args: argparse.Namespace, settings: Settings) -> int:
        parser.print_help()
        return 2

    return handler


def _faults(path: Path | None) -> dict[str, Any] | None:
    raw = str(path) if path else os.environ.get("CONTAIN_SANDBOX_FAULTS")
    if not raw:
        return None
    try:
        data = json.loads(Path(raw).read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"contain: the fault file {raw} cannot be read: {exc}.") from None
    return data if isinstance(data, dict) else {"rules": data}


async def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run the sandbox on loopback and print where it listens."""
    from sandbox.fixture import FixtureError
    from sandbox.server import SandboxServer, is_loopback

    if not is_loopback(args.host):
        print(f"contain: the sandbox only listens on loopback; {args.host} is not a loopback address.",
              file=sys.stderr)
        return 2
    try:
        server = SandboxServer(home=settings.home, fixture=args.fixture or settings.sandbox_fixture,
                               faults=_faults(args.faults), latency_ms=args.latency_ms)
        await server.start(host=args.host, port=args.port, login_port=args.login_port)
    except FixtureError as exc:
        print(f"contain: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"contain: the sandbox cannot listen on {args.host}:{args.port}/{args.login_port}: {exc.strerror}.",
              file=sys.stderr)
        return 2
    ep = server.endpoints()
    print(f"Sandbox tenant {server.state.tenant['defaultDomain']} ({ep.tenant_id})")
    print(f"  Graph and Exchange: {server.url}")
    print(f"  Token endpoint:     {ep.authority}")
    print(f"  CA bundle:          {ep.ca_bundle}")
    print(f"  Use it from other commands: CONTAIN_SANDBOX_URL={server.url}")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
    return 0


async def reset_command(args: argparse.Namespace, settings: Settings) -> int:
    """Restore the fixture on disk (state.json and the write journal)."""
    from sandbox.fixture import FixtureError
    from sandbox.server import SandboxServer

    try:
        server = SandboxServer(home=settings.home, fixture=args.fixture or settings.sandbox_fixture)
    except FixtureError as exc:
        print(f"contain: {exc}", file=sys.stderr)
        return 2
    server.reset()
    print(f"Sandbox tenant reset to its fixture under {settings.home / 'sandbox'}.")
    if settings.sandbox_url:  # a running sandbox keeps its state in memory: reset it too
        import httpx

        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                (await client.post(f"{settings.sandbox_url}/_sandbox/reset")).raise_for_status()
        except httpx.HTTPError:
            print(f"contain: the sandbox at {settings.sandbox_url} did not answer; only the files were reset.",
                  file=sys.stderr)
            return 1
        print(f"The running sandbox at {settings.sandbox_url} was reset too.")
    return 0
