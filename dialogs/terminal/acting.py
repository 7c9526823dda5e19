"""What `contain remediate`, `contain approve` and `contain reject` share: the signed-in responder, the
exit codes, running the requests this process confirmed or approved, and the verdict over their results.

Exit status (docs/cli.md):
    0  every action done and verified
    1  an action failed or only partly succeeded, or was not verified (or the tenant refused a read)
    2  bad arguments
    3  the name matches several accounts        4  nobody matches
    5  refused by the approval policy (not a responder, own account, self-approval, no reason, …)
    6  a high-impact action waits for a second responder
    7  an action ran but a finding it was asked to address remains
    8  nobody is signed in
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from services import approvals
from services.actions import engine
from services.findings.investigation import investigate
from services.store import announcements
from services.store import requests as request_repo
from services.store.db import new_id
from services.store.records import ActionRequest, Incident, RequestState
from services.tenant.errors import TenantError
from services.vocabulary import ActionId, ActionResult, ActionStatus, UserRef, targets_by_action

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AMBIGUOUS = 3
EXIT_NOT_FOUND = 4
EXIT_REFUSED = 5
EXIT_WAITING = 6
EXIT_FINDING_REMAINS = 7
EXIT_NOT_SIGNED_IN = 8

WAITS = "waits for a second responder"
CLAIM_LEASE_S = 300.0
_FINAL = {RequestState.SUCCEEDED, RequestState.FAILED, RequestState.SKIPPED, RequestState.REFUSED}


@dataclass
class Verdict:
    """What became of a batch: each request's result, what still waits, and findings that remain."""

    results: list[ActionResult] = field(default_factory=list)
    waiting: list[ActionRequest] = field(default_factory=list)
    ended: list[ActionRequest] = field(default_factory=list)  # expired, rejected, cancelled
    remaining: list[str] = field(default_factory=list)  # "<action>: <flagged object>"
    refused: bool = False

    @property
    def exit_code(self) -> int:
        if self.refused or any(r.status is ActionStatus.REFUSED for r in self.results):
            return EXIT_REFUSED
        if any(r.status in (ActionStatus.FAILED, ActionStatus.PARTIAL) for r in self.results) or any(
                r.status is ActionStatus.SUCCEEDED and not r.verified for r in self.results):
            return EXIT_FAILED
        if self.remaining:
            return EXIT_FINDING_REMAINS
        if self.waiting:
            return EXIT_WAITING
        if self.ended:
            return EXIT_REFUSED
        return EXIT_OK


async def run_claimed(runtime: Any, *, batch_id: str, options: dict[str, Any] | None = None,
                      on_result: Callable[[ActionResult], None] | None = None) -> dict[str, ActionResult]:
    """Claim the runnable requests of `batch_id` and run them through the engine the bot's worker uses
    (services.actions.engine.run_claimed), until nothing of the batch
    is left to claim (unblock_sender becomes claimable once its dependencies ran). The only place the command
    line runs claimed requests. Results by request id; a temporary password is in its result only."""
    worker_id = f"cli-{os.getpid()}-{new_id('w', 6)}"
    done: dict[str, ActionResult] = {}
    while True:
        claimed = await approvals.claim(runtime.store, worker_id=worker_id, lease_s=CLAIM_LEASE_S, limit=20,
                                        batch_id=batch_id)
        if not claimed:
            return done

        async def finished(req: ActionRequest, result: ActionResult) -> None:
            done[req.id] = result
            if on_result is not None:
                on_result(result)

        await engine.run_claimed(claimed, tenant=runtime.tenant, writer=runtime.writer, store=runtime.store,
                                 worker_id=worker_id, options=options, on_finished=finished,
                                 verify_wait_s=runtime.settings.verify_wait_s)


def _stored_result(req: ActionRequest) -> ActionResult:
    data = req.result or {}
    try:
        status = ActionStatus(str(data.get("status") or req.state.value))
    except ValueError:
        status = ActionStatus.FAILED
    return ActionResult(action=ActionId(req.action), status=status, verified=bool(data.get("verified")),
                        detail=str(data.get("detail") or ""), request_ids=tuple(data.get("request_ids") or ()))


async def settle(runtime: Any, *, batch_id: str, ran: dict[str, ActionResult], wait_s: float = 120.0
                 ) -> Verdict:
    """The batch's state once this process is done with it. Requests another process is running (the bot's
    worker may claim an approved request first) are waited for, up to `wait_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        reqs = await request_repo.for_batch(runtime.store, batch_id=batch_id)
        busy = [r for r in reqs if r.state in (RequestState.APPROVED, RequestState.RUNNING) and r.id not in ran]
        if not busy or loop.time() >= deadline:
            break
        await asyncio.sleep(0.5)
    verdict = Verdict()
    for req in reqs:
        if req.id in ran:
            verdict.results.append(ran[req.id])
        elif req.state in _FINAL:
            verdict.results.append(_stored_result(req))
        elif req.state is RequestState.AWAITING_APPROVAL:
            verdict.waiting.append(req)
        elif req.state in (RequestState.APPROVED, RequestState.RUNNING):
            verdict.results.append(ActionResult(action=ActionId(req.action), status=ActionStatus.FAILED,
                                                verified=False, detail="Still running elsewhere; see `contain "
                                                                       "audit show` for its outcome."))
        else:
            verdict.ended.append(req)
    return verdict


async def remaining_findings(runtime: Any, *, user: UserRef, actions: Iterable[ActionId]) -> list[str]:
    """Re-investigate and name what the findings still flag for `actions` (empty when all is addressed)."""
    wanted = set(actions)
    if not wanted:
        return []
    try:
        inv = await investigate(tenant=runtime.tenant, user=user)
    except TenantError as exc:
        return [f"the account could not be read again to check ({exc.sentence})"]
    flagged = targets_by_action(inv.to_json())
    return [f"{a.value}: {t}" for a in sorted(wanted & set(flagged)) for t in flagged[a]]


async def conclude(runtime: Any, *, batch_id: str, ran: dict[str, ActionResult], user: UserRef) -> Verdict:
    """settle(), then the findings check over the actions that ran to the end."""
    verdict = await settle(runtime, batch_id=batch_id, ran=ran)
    addressed = [r.action for r in verdict.results
                 if r.status in (ActionStatus.SUCCEEDED, ActionStatus.SKIPPED, ActionStatus.PARTIAL)]
    verdict.remaining = await remaining_findings(runtime, user=user, actions=addressed)
    return verdict


async def announce(runtime: Any, incident: Incident, text: str) -> None:
    """Leave a sentence for the incident's Teams thread; the bot posts it (and refreshes the card)."""
    await announcements.leave(runtime.store, incident_id=incident.id, text=text)


def result_line(result: ActionResult) -> str:
    mark = {"succeeded": "✓", "skipped": "·", "failed": "✗", "refused": "✗", "partial": "◐"}.get(
        result.status.value, "?")
    check = " (verified)" if result.verified and result.status is ActionStatus.SUCCEEDED else ""
    if result.status is ActionStatus.SUCCEEDED and not result.verified:
        check = " (not verified)"
    return f"{mark} {result.action.value:<26}{result.status.value}{check}: {result.detail}"


def waiting_lines(verdict: Verdict) -> list[str]:
    by_batch: dict[str, list[ActionRequest]] = {}
    for req in verdict.waiting:
        by_batch.setdefault(req.batch_id, []).append(req)
    lines = []
    for batch, reqs in by_batch.items():
        names = ", ".join(r.action for r in reqs)
        lines.append(f"… {names} {WAITS}: another responder approves it on the incident's card in Teams or with "
                     f"`contain approve {batch}` (or, in an emergency, rerun with --break-glass --reason \"…\").")
    return lines


def print_verdict(verdict: Verdict, *, user: UserRef) -> None:
    for req in verdict.ended:
        print(f"✗ {req.action:<26}{req.state.value}", file=sys.stderr)
    for line in waiting_lines(verdict):
        print(line)
    for r in verdict.results:
        if r.temporary_password:
            print(f"\nTemporary password for {user.user_principal_name}: {r.temporary_password}\n"
                  "It is shown once and kept nowhere; give it to the user through a trusted channel. "
                  "They must change it at next sign-in.")
    if verdict.remaining:
        print("Findings still flagged after the run: " + "; ".join(verdict.remaining), file=sys.stderr)


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    results = []
    for r in verdict.results:
        out = r.to_json()
        if r.action is ActionId.RESET_PASSWORD:
            out["temporary_password"] = r.temporary_password
        results.append(out)
    return {"results": results,
            "waiting": [{"request": r.id, "batch": r.batch_id, "action": r.action, "state": r.state.value}
                        for r in verdict.waiting],
            "ended": [{"request": r.id, "action": r.action, "state": r.state.value} for r in verdict.ended],
            "remaining": verdict.remaining, "exit_code": verdict.exit_code,
            "message": f"{', '.join(r.action for r in verdict.waiting)} {WAITS}." if verdict.waiting else ""}


def summary_text(actor_name: str, verdict: Verdict, target: str) -> str:
    """One sentence for the thread about what a command-line run did."""
    parts = [f"{r.action.value} {r.status.value}{' (verified)' if r.verified else ''}" for r in verdict.results]
    waits = [r.action for r in verdict.waiting]
    text = f"From the command line, {actor_name} ran on {target}: {', '.join(parts) or 'nothing'}."
    if waits:
        text += f" {', '.join(waits)} {WAITS}."
    return text
