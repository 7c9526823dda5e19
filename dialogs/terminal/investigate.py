"""`contain investigate WHO [--json] [--fixture PATH]`: resolve an account and print what the
investigation found, as a readable report or as JSON.

Exit status: 0 investigated, 1 the tenant refused (one sentence on stderr), 3 the name matches
several accounts (candidates listed), 4 nobody matches.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from services.findings.investigation import investigate
from services.findings.resolve import resolve
from services.tenant.errors import TenantError
from services.vocabulary import Ambiguous, Investigation, NotFound, Resolved, UserRef

EXIT_TENANT_ERROR = 1
EXIT_AMBIGUOUS = 3
EXIT_NOT_FOUND = 4


class _FixtureAction(argparse.Action):
    """--fixture must reach the sandbox before the runtime is built; bot.main reads settings from
    the environment after parsing, so the option lands in CONTAIN_SANDBOX_FIXTURE here."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        path = Path(str(values)).expanduser()
        if not path.is_file():
            parser.error(f"--fixture {path} is not a file.")
        os.environ["CONTAIN_SANDBOX_FIXTURE"] = str(path.resolve())
        setattr(namespace, self.dest, path)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "investigate", help="investigate an account: findings and recommended actions",
        description="Resolve WHO (a UPN, an email address, a user name or a display name) and investigate it.")
    parser.add_argument("who", help='the account, e.g. alice, alice@contoso.com or "Alice Smith"')
    parser.add_argument("--json", action="store_true", help="print JSON instead of a report")
    parser.add_argument("--fixture", action=_FixtureAction, metavar="PATH",
                        help="load this sandbox tenant fixture (sandbox mode only)")
    parser.set_defaults(handler=handler, needs_runtime=True)


def _who(user: UserRef) -> str:
    return f"{user.display_name} <{user.user_principal_name}>"


def investigation_json(inv: Investigation) -> dict[str, Any]:
    out = inv.to_json()
    out["user"] = {k: v for k, v in out["user"].items() if k in ("id", "userPrincipalName", "displayName",
                                                                  "accountEnabled")}
    return out


def render_report(inv: Investigation) -> str:
    lines = [f"{_who(inv.user)}  ({'enabled' if inv.user.account_enabled else 'sign-in blocked'})",
             f"  id {inv.user.id}",
             f"  risk {inv.risk_level or 'none'}{', ' + inv.risk_state if inv.risk_state else ''}"
             f"{'  ·  holds an admin role' if inv.is_admin else ''}", ""]
    if not inv.findings:
        lines.append("No findings.")
    for f in inv.findings:
        lines.append(f"{f.severity.value.upper():<7}{f.title}  [{f.kind.value}]")
        lines.extend(f"         {line}" for line in f.evidence)
        if f.actions:
            lines.append(f"         → {', '.join(a.value for a in f.actions)}")
    lines.append("")
    recommended = ", ".join(a.value for a in inv.recommended_actions) or "none"
    lines.append(f"Recommended actions: {recommended}")
    for gap in inv.gaps:
        lines.append(f"Not checked: {gap}")
    return "\n".join(lines)


async def handler(args: argparse.Namespace, runtime: Any) -> int:
    """Investigate `args.who` against the runtime's tenant and print the result."""
    try:
        resolution = await resolve(runtime.tenant, args.who)
        if isinstance(resolution, NotFound):
            print(f"Nobody in the tenant matches {resolution.query!r}.", file=sys.stderr)
            return EXIT_NOT_FOUND
        if isinstance(resolution, Ambiguous):
            if args.json:
                print(json.dumps({"ambiguous": [u.to_json() for u in resolution.candidates]}, indent=2))
            else:
                print(f"{resolution.query!r} matches {len(resolution.candidates)} accounts; name one of them:")
                for user in resolution.candidates:
                    print(f"  {_who(user)}")
            return EXIT_AMBIGUOUS
        assert isinstance(resolution, Resolved)
        inv = await investigate(tenant=runtime.tenant, user=resolution.user)
    except TenantError as exc:
        print(f"contain: {exc.sentence}", file=sys.stderr)
        return EXIT_TENANT_ERROR
    print(json.dumps(investigation_json(inv), indent=2, default=str) if args.json else render_report(inv))
    return 0
