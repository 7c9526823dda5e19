"""`contain remediate WHO --action ID[,ID...] [--yes] [--json] [--as NAME] [--override-unblock]`

Runs containment actions on one account from the terminal. Without --yes it asks before each action.
The actions run in the account's open incident (one is opened, with an investigation, when there is
none), so what one invocation did counts for the next: reset_password today lets unblock_sender run
tomorrow. `--action recommended` runs what the investigation recommends.

The temporary password of reset_password is printed once, on stdout, and nowhere else.

Exit status: 0 every action succeeded or had nothing to do; 1 an action failed or was refused (or
the tenant refused a read); 2 bad arguments; 3 the name matches several accounts; 4 nobody matches.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import uuid
from typing import Any

from services.actions import catalog
from services.actions.engine import ActionProgress, run_direct
from services.findings.investigation import investigate
from services.findings.resolve import resolve
from services.store import incidents
from services.store.records import Incident, IncidentSource
from services.tenant.errors import TenantError
from services.vocabulary import ActionId, ActionResult, ActionStatus, Actor, Ambiguous, NotFound, UserRef

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AMBIGUOUS = 3
EXIT_NOT_FOUND = 4
RECOMMENDED = "recommended"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "remediate", help="run containment actions on an account",
        description="Run containment actions on WHO. Action ids: " + ", ".join(a.value for a in ActionId)
                    + f"; or '{RECOMMENDED}' for what the investigation recommends.")
    parser.add_argument("who", help='the account, e.g. alice, alice@contoso.com or "Alice Wilson"')
    parser.add_argument("--action", "-a", required=True, action="append", metavar="ID[,ID...]",
                        help="the actions to run (repeatable, comma-separated)")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask before each action")
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    parser.add_argument("--as", dest="as_name", metavar="NAME",
                        help="the name recorded as the actor (default: the OS user)")
    parser.add_argument("--override-unblock", action="store_true",
                        help="run unblock_sender even if reset_password and revoke_sessions have not succeeded "
                             "(audited)")
    parser.add_argument("--all-but-password", action="store_true",
                        help="reset_mfa removes every method except the password, not only recent ones")
    parser.add_argument("--reason", default="Run from the command line.", help="why (kept in the audit log)")
    parser.set_defaults(handler=handler, needs_runtime=True)


def parse_actions(raw: list[str]) -> tuple[list[ActionId], bool, list[str]]:
    """(actions, wants recommended, unknown names) from repeated comma-separated --action values."""
    wanted: list[ActionId] = []
    recommended = False
    unknown: list[str] = []
    known = {a.value: a for a in ActionId}
    for chunk in raw:
        for name in (n.strip().lower() for n in chunk.split(",")):
            if not name:
                continue
            if name == RECOMMENDED:
                recommended = True
            elif name in known:
                wanted.append(known[name])
            else:
                unknown.append(name)
    return list(dict.fromkeys(wanted)), recommended, unknown


def actor_of(as_name: str | None) -> Actor:
    name = (as_name or "").strip() or getpass.getuser()
    return Actor(id=f"cli:{name}"[:64], name=name)


async def _incident(runtime: Any, user: UserRef, actor: Actor, correlation_id: str, need_investigation: bool
                    ) -> tuple[Incident, list[ActionId]]:
    """The account's open incident (opened now if there is none) and the recommended actions."""
    existing = await incidents.find_open(runtime.store, target_user_id=user.id)
    recommended: list[ActionId] = []
    if existing is not None and not need_investigation:
        return existing, recommended
    inv = await investigate(tenant=runtime.tenant, user=user)
    recommended = list(inv.recommended_actions)
    if existing is not None:
        return existing, recommended
    cutoff = None
    for f in inv.findings:
        first = f.details.get("firstSuspicious") if f.details else None
        if first:
            from datetime import datetime

            cutoff = datetime.fromisoformat(str(first))
    opened = await incidents.open_incident(runtime.store, target=inv.user, source=IncidentSource.COMMAND,
                                           opened_by=actor, investigation=inv.to_json(),
                                           target_is_admin=inv.is_admin, cutoff=cutoff, correlation_id=correlation_id)
    return opened.incident, recommended


async def _confirmed(actions: list[ActionId], user: UserRef) -> list[ActionId]:
    """Ask y/N for each action on the terminal; anything but y/yes declines."""
    chosen = []
    for action_id in actions:
        prompt = (f"{catalog.title(action_id)} on {user.user_principal_name}? {catalog.description(action_id)} "
                  "[y/N] ")
        try:
            answer = await asyncio.to_thread(input, prompt)
        except EOFError:
            answer = ""
        if answer.strip().lower() in ("y", "yes"):
            chosen.append(action_id)
    return chosen


def result_json(result: ActionResult) -> dict[str, Any]:
    out: dict[str, Any] = {"action": result.action.value, "status": result.status.value, "verified": result.verified,
           "detail": result.detail, "request_ids": list(result.request_ids)}
    if result.action is ActionId.RESET_PASSWORD:
        out["temporary_password"] = result.temporary_password
    return out


def result_line(result: ActionResult) -> str:
    mark = {"succeeded": "✓", "skipped": "·", "failed": "✗", "refused": "✗"}[result.status.value]
    check = " (verified)" if result.verified and result.status is ActionStatus.SUCCEEDED else ""
    return f"{mark} {result.action.value:<26}{result.status.value}{check}: {result.detail}"


async def handler(args: argparse.Namespace, runtime: Any) -> int:
    """Run the chosen actions on `args.who` and print one line (or JSON object) per action."""
    wanted, recommended, unknown = parse_actions(args.action)
    if unknown:
        print(f"contain: unknown action {unknown[0]!r}; choose from {', '.join(a.value for a in ActionId)}.",
              file=sys.stderr)
        return EXIT_USAGE
    actor = actor_of(args.as_name)
    correlation_id = str(uuid.uuid4())
    try:
        resolution = await resolve(runtime.tenant, args.who)
        if isinstance(resolution, NotFound):
            print(f"Nobody in the tenant matches {resolution.query!r}.", file=sys.stderr)
            return EXIT_NOT_FOUND
        if isinstance(resolution, Ambiguous):
            names = ", ".join(u.user_principal_name for u in resolution.candidates)
            print(f"{resolution.query!r} matches several accounts ({names}); name one of them.", file=sys.stderr)
            return EXIT_AMBIGUOUS
        user = resolution.user
        incident, suggested = await _incident(runtime, user, actor, correlation_id, recommended)
    except TenantError as exc:
        print(f"contain: {exc.sentence}", file=sys.stderr)
        return EXIT_FAILED
    actions = list(dict.fromkeys([*suggested, *wanted])) if recommended else wanted
    if not actions:
        print("Nothing to run: the investigation recommends no action.", file=sys.stderr)
        return 0
    if not args.yes:
        actions = await _confirmed(actions, user)
        if not actions:
            print("Nothing confirmed; nothing was changed.", file=sys.stderr)
            return 0

    def progress(event: ActionResult | ActionProgress) -> None:
        if isinstance(event, ActionResult) and not args.json:
            print(result_line(event), flush=True)

    results = await run_direct(tenant=runtime.tenant, writer=runtime.writer, store=runtime.store, incident=incident,
                               user=user,
                                actions=actions, actor=actor, correlation_id=correlation_id, on_progress=progress,
                                override_unblock=args.override_unblock, reason=args.reason,
                                options={"all_but_password": args.all_but_password},
                                verify_wait_s=runtime.settings.verify_wait_s)
    if args.json:
        print(json.dumps({"user": user.to_json(), "incident": incident.id, "correlation_id": correlation_id,
                          "results": [result_json(r) for r in results]}, indent=2))
    else:
        for r in results:
            if r.temporary_password:
                print(f"\nTemporary password for {user.user_principal_name}: {r.temporary_password}\n"
                      "It is shown once and kept nowhere; give it to the user through a trusted channel. "
                      "They must change it at next sign-in.")
    ok = all(r.status in (ActionStatus.SUCCEEDED, ActionStatus.SKIPPED) for r in results)
    return 0 if ok else EXIT_FAILED
