"""`contain doctor [--json]`: check tokens, permissions, the responders group, the channel and the
database, one line each (`✓ what` or `✗ what — fix`). Exit status 0 when every check passes, 1 otherwise.

In sandbox mode the same checks run against the sandbox tenant; only two inputs come from the
sandbox instead of settings: its responders group, and a channel being optional there.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx

from services import doctor
from services.runtime import Runtime

EXIT_OK = 0
EXIT_FAILED = 1


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "doctor", help="check tokens, permissions, responders group, channel and database",
        description="Check that Contain can work in this tenant: both tokens, one harmless read per permission "
                    "area (a refusal names the permission to grant), the responders group, the channel and the "
                    "database. Nothing is written to the tenant.")
    parser.add_argument("--json", action="store_true", help="print JSON instead of one line per check")
    parser.set_defaults(handler=handler, needs_runtime=True)


async def sandbox_info(runtime: Runtime) -> dict[str, Any]:
    """What the sandbox says about itself: in process, or over its admin API when it runs elsewhere."""
    if runtime.sandbox is not None:
        return dict(runtime.sandbox.info())
    url = runtime.settings.sandbox_url
    if not url:
        return {}
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.get(f"{url}/_sandbox/info")
            response.raise_for_status()
            info = response.json()
    except (httpx.HTTPError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def tenant_line(runtime: Runtime, info: dict[str, Any]) -> str:
    endpoints = runtime.endpoints
    if runtime.settings.sandbox:
        domain = info.get("tenantDomain") or endpoints.tenant_id
        return f"sandbox tenant {domain} at {endpoints.graph_url} (no real tenant is touched)"
    return f"tenant {endpoints.tenant_id}, app {endpoints.client_id}, Graph at {endpoints.graph_url}"


async def handler(args: argparse.Namespace, runtime: Runtime) -> int:
    """Run every check and print the report."""
    settings = runtime.settings
    info = await sandbox_info(runtime) if settings.sandbox else {}
    report = await doctor.run(
        tenant=runtime.tenant, tokens=runtime.tokens, store=runtime.store,
        client_id=runtime.endpoints.client_id, authority=runtime.endpoints.authority,
        tenant_line=tenant_line(runtime, info),
        responders_group_id=settings.responders_group_id or info.get("respondersGroupId"),
        channel_id=settings.channel_id,
        # A real tenant needs the channel for alert threads; a fresh sandbox has none until the
        # Playground adds the bot to one, which is not a fault.
        channel_required=not settings.sandbox,
    )
    if getattr(args, "json", False):
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        for line in report.lines():
            print(line)
    return EXIT_OK if report.ok else EXIT_FAILED
