"""`contain remediate WHO --action ID[,ID...] [--yes] [--json] [--break-glass --reason TEXT] [--override-unblock]`

Runs containment actions on one account from the terminal, as the signed-in responder (`contain login`)
and under the same approval policy as Teams: standard actions run once confirmed (without --yes, it
asks before each); a high-impact action (and every action on an admin) leaves a request that a second,
different responder approves, on the incident's card or with `contain approve`, unless it runs under
`--break-glass --reason "…"`, which is audited as break-glass and announced in the incident's thread.
The actions run in the account's open incident (one is opened, with an investigation, when there is
none). `--action recommended` runs what the investigation recommends.

The temporary password of reset_password is printed once, on stdout, and nowhere else.
Exit status: see dialogs/terminal/acting.py and docs/cli.md (0 done and verified; 6 waits for a second
responder; 7 a finding it was asked to address remains; 8 nobody is signed in; ...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from datetime import datetime, timedelta
from typing import Any

from dialogs.terminal import acting
from dialogs.terminal.acting import (
    EXIT_AMBIGUOUS,
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_NOT_SIGNED_IN,
    EXIT_REFUSED,
    EXIT_USAGE,
    result_line,
)
from dialogs.terminal.signin import NOT_SIGNED_IN, responders, signed_in
from services import approvals
from services.actions import catalog
from services.approvals.common import clean_reason, refuse_access, refuse_request, same_account
from services.findings.investigation import investigate
from services.findings.resolve import resolve
from services.store import incidents
from services.store.records import Incident, IncidentSource, RequestState
from services.tenant.errors import TenantError
from services.vocabulary import ActionId, ActionResult, Actor, Ambiguous, NotFound, UserRef

RECOMMENDED = "recommended"
DEFAULT_REASON = "Run from the command line."


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
    parser.add_argument("--break-glass", action="store_true",
                        help="emergency: run high-impact actions without a second responder (needs --reason; "
                             "audited as break-glass and announced in the incident's thread)")
    parser.add_argument("--override-unblock", action="store_true",
                        help="run unblock_sender even if reset_password and revoke_sessions have not succeeded "
                             "(audited)")
    parser.add_argument("--all-but-password", action="store_true",
                        help="reset_mfa removes every method except the password, not only recent ones")
    parser.add_argument("--reason", default=None, help=f"why (kept in the audit log; default {DEFAULT_REASON!r}, "
                                                         "required with --break-glass)")
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


async def handler(args: argparse.Namespace, runtime: Any) -> int:
    """Confirm the chosen actions on `args.who` as the signed-in responder, run what may run now, and print one
    line (or one JSON document) per action."""
    wanted, recommended, unknown = parse_actions(args.action)
    if unknown:
        print(f"contain: unknown action {unknown[0]!r}; choose from {', '.join(a.value for a in ActionId)}.",
              file=sys.stderr)
        return EXIT_USAGE
    if args.break_glass and clean_reason(args.reason) is None:
        print("contain: --break-glass needs --reason \"…\" (up to 500 characters); nothing was run.", file=sys.stderr)
        return EXIT_REFUSED
    actor = await signed_in(runtime)
    if actor is None:
        print(f"contain: {NOT_SIGNED_IN}", file=sys.stderr)
        return EXIT_NOT_SIGNED_IN
    is_responder = await responders(runtime)
    correlation_id = str(uuid.uuid4())
    if not await is_responder(actor.id):
        refused = await refuse_access(runtime.store, actor=actor, attempted=f"remediate {args.who[:100]}",
                                      incident_id=None, correlation_id=correlation_id, target=args.who[:320])
        print(f"contain: {refused.message}", file=sys.stderr)
        return EXIT_REFUSED
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
        if same_account(actor.id, user.id):
            refused = await refuse_request(runtime.store, actor=actor, code=approvals.OutcomeCode.OWN_ACCOUNT,
                                           incident_id=None, correlation_id=correlation_id,
                                           target=user.user_principal_name,
                                           message="You cannot request actions on your own account; ask another "
                                                   "responder.")
            print(f"contain: {refused.message}", file=sys.stderr)
            return EXIT_REFUSED
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
    return await _confirm_and_run(args, runtime, actor=actor, is_responder=is_responder, incident=incident,
                                  user=user, actions=actions, correlation_id=correlation_id)


async def _confirm_and_run(args: argparse.Namespace, runtime: Any, *, actor: Actor, is_responder: Any,
                           incident: Incident, user: UserRef, actions: list[ActionId], correlation_id: str) -> int:
    outcome = await approvals.confirm(
        runtime.store, incident_id=incident.id, actions=[a.value for a in actions], actor=actor,
        reason=args.reason or DEFAULT_REASON, is_responder=is_responder, override_unblock=args.override_unblock,
        ttl=timedelta(minutes=runtime.settings.request_ttl_minutes), correlation_id=correlation_id)
    if not outcome.ok:
        print(f"contain: {outcome.message}", file=sys.stderr)
        return EXIT_REFUSED
    batch_id = outcome.requests[0].batch_id
    if args.break_glass and any(r.state is RequestState.AWAITING_APPROVAL for r in outcome.requests):
        glass = await approvals.break_glass(runtime.store, request_id=batch_id, actor=actor, reason=args.reason,
                                            is_responder=is_responder, correlation_id=correlation_id)
        print(glass.message, file=sys.stderr)
        if not glass.ok:
            return EXIT_REFUSED
    elif args.break_glass:
        print("Nothing here waits for a second responder; --break-glass was not needed.", file=sys.stderr)

    def progress(result: ActionResult) -> None:
        if not args.json:
            print(result_line(result), flush=True)

    ran = await acting.run_claimed(runtime, batch_id=batch_id, on_result=progress,
                                   options={"all_but_password": args.all_but_password})
    verdict = await acting.conclude(runtime, batch_id=batch_id, ran=ran, user=user)
    text = acting.summary_text(actor.name, verdict, incident.target_upn)
    if verdict.waiting:
        text += f" Approve it on this card or with `contain approve {batch_id}`."
    await acting.announce(runtime, incident, text)
    if args.json:
        print(json.dumps({"user": user.to_json(), "incident": incident.id, "batch": batch_id,
                          "correlation_id": correlation_id, **acting.verdict_json(verdict)}, indent=2))
    else:
        for r in verdict.results:
            if not any(r is mine for mine in ran.values()):
                print(result_line(r))  # refused at confirmation, or run by another process
        acting.print_verdict(verdict, user=user)
    return verdict.exit_code
