"""`contain approve REQUEST` and `contain reject REQUEST --reason TEXT`: the second responder's decision from
the terminal, under the same policy as the incident card's buttons (services.approvals): responders only,
never about one's own account, never one's own request, not after it expired.

REQUEST is a request id (`req_…`) or a batch id (`bat_…`), as `contain remediate` and the card print them.
An approval runs the approved actions here, as `contain remediate` would, and both decisions are announced
in the incident's Teams thread. Exit status: as `contain remediate` (dialogs/terminal/acting.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import Any

from dialogs.terminal import acting
from dialogs.terminal.acting import EXIT_NOT_SIGNED_IN, EXIT_OK, EXIT_REFUSED, result_line
from dialogs.terminal.signin import NOT_SIGNED_IN, responders, signed_in
from services import approvals
from services.actions.catalog import title
from services.approvals.common import clean_reason
from services.store import incidents as incident_repo
from services.vocabulary import ActionResult, UserRef


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    approve = subparsers.add_parser(
        "approve", help="approve a request that waits for a second responder, and run it",
        description="Approve a high-impact request another responder made (in Teams or with `contain remediate`), "
                    "then run it and print the results.")
    approve.add_argument("request", metavar="REQUEST", help="request id (req_…) or batch id (bat_…)")
    approve.add_argument("--json", action="store_true", help="print JSON instead of lines")
    approve.set_defaults(handler=approve_handler, needs_runtime=True)
    reject = subparsers.add_parser("reject", help="reject a request that waits for a second responder",
                                   description="Reject a pending high-impact request (your own: cancel it).")
    reject.add_argument("request", metavar="REQUEST", help="request id (req_…) or batch id (bat_…)")
    reject.add_argument("--reason", required=True, help="why (kept in the audit log)")
    reject.set_defaults(handler=reject_handler, needs_runtime=True)


def _request_id(raw: str) -> str | None:
    value = raw.strip()
    return value if value.startswith(("req_", "bat_")) and len(value) <= 32 and value.isascii() else None


async def approve_handler(args: argparse.Namespace, runtime: Any) -> int:
    """Approve REQUEST as the signed-in responder and run what it approved."""
    actor = await signed_in(runtime)
    if actor is None:
        print(f"contain: {NOT_SIGNED_IN}", file=sys.stderr)
        return EXIT_NOT_SIGNED_IN
    request_id = _request_id(args.request) or "req_unknown"
    correlation_id = str(uuid.uuid4())
    outcome = await approvals.approve(runtime.store, request_id=request_id, approver=actor,
                                      is_responder=await responders(runtime), correlation_id=correlation_id)
    if not outcome.ok:
        print(f"contain: {outcome.message}", file=sys.stderr)
        return EXIT_REFUSED
    incident = await incident_repo.get(runtime.store, incident_id=outcome.incident_id or "")
    assert incident is not None
    print(outcome.message, file=sys.stderr)
    user = await runtime.tenant.get_user(user_id=incident.target_user_id) or UserRef(
        id=incident.target_user_id, user_principal_name=incident.target_upn, display_name=incident.target_display_name)

    def progress(result: ActionResult) -> None:
        if not args.json:
            print(result_line(result), flush=True)

    verdict = acting.Verdict()
    for batch_id in dict.fromkeys(r.batch_id for r in outcome.requests):
        ran = await acting.run_claimed(runtime, batch_id=batch_id, on_result=progress)
        one = await acting.conclude(runtime, batch_id=batch_id, ran=ran, user=user)
        verdict.results += one.results
        verdict.waiting += one.waiting
        verdict.ended += one.ended
        verdict.remaining += one.remaining
    await acting.announce(runtime, incident, f"{actor.name} approved from the command line. "
                                             + acting.summary_text(actor.name, verdict, incident.target_upn))
    if args.json:
        print(json.dumps({"incident": incident.id, "correlation_id": correlation_id, **acting.verdict_json(verdict)},
                         indent=2))
    else:
        acting.print_verdict(verdict, user=user)
    return verdict.exit_code


async def reject_handler(args: argparse.Namespace, runtime: Any) -> int:
    """Reject REQUEST (cancel it, when it is yours) as the signed-in responder, with a reason."""
    actor = await signed_in(runtime)
    if actor is None:
        print(f"contain: {NOT_SIGNED_IN}", file=sys.stderr)
        return EXIT_NOT_SIGNED_IN
    reason = clean_reason(args.reason)
    if reason is None:
        print("contain: --reason must say why, in up to 500 characters; nothing was changed.", file=sys.stderr)
        return EXIT_REFUSED
    outcome = await approvals.reject(runtime.store, request_id=_request_id(args.request) or "req_unknown",
                                     actor=actor, is_responder=await responders(runtime),
                                     correlation_id=str(uuid.uuid4()), reason=reason)
    if not outcome.ok:
        print(f"contain: {outcome.message}", file=sys.stderr)
        return EXIT_REFUSED
    print(outcome.message)
    incident = await incident_repo.get(runtime.store, incident_id=outcome.incident_id or "")
    if incident is not None:
        names = ", ".join(title(r.action) for r in outcome.requests)
        await acting.announce(runtime, incident, f"{actor.name} {outcome.code.value} {names} from the command line: "
                                                 f"{reason}")
    return EXIT_OK
