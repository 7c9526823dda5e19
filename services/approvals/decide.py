"""Deciding on requests that await a second responder: approve or reject, one transition each.

A double click, two responders clicking at once, two instances: the state change is a conditional
UPDATE, so exactly one wins and the others are told who did ("Already approved by Dana.").
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from services.actions.catalog import title
from services.approvals.common import (
    REASON_MAX,
    Outcome,
    OutcomeCode,
    audited_refusal,
    clean_reason,
    refuse_access,
    refuse_closed_in,
    refuse_request,
    same_account,
)
from services.ports import ResponderCheck
from services.store import announcements, audit, requests
from services.store.db import Connection, Store, utcnow
from services.store.incidents import lock as lock_incident
from services.store.records import ActionRequest, RequestState
from services.vocabulary import Actor

_DONE_VERBS = {
    RequestState.APPROVED: "approved", RequestState.RUNNING: "approved and running",
    RequestState.SUCCEEDED: "done", RequestState.FAILED: "done (it failed)", RequestState.SKIPPED: "done",
    RequestState.REFUSED: "refused", RequestState.EXPIRED: "expired", RequestState.REJECTED: "rejected",
    RequestState.CANCELLED: "cancelled",
}


def _already(req: ActionRequest) -> Outcome:
    verb = _DONE_VERBS.get(req.state, req.state.value)
    if req.state is RequestState.EXPIRED:
        message = f"{title(req.action)} expired without approval; confirm it again if it is still needed."
        return Outcome(False, OutcomeCode.EXPIRED, message, req.incident_id, (req,), audited=False)
    by = f" by {req.decided_by_name}" if req.decided_by_name and req.state is not RequestState.REFUSED else ""
    return Outcome(False, OutcomeCode.ALREADY_DECIDED, f"{title(req.action)} was already {verb}{by}.",
                   req.incident_id, (req,), audited=False)


async def _load(store: Store, request_or_batch_id: str) -> list[ActionRequest]:
    if request_or_batch_id.startswith("bat_"):
        return await requests.for_batch(store, batch_id=request_or_batch_id)
    found = await requests.get(store, request_id=request_or_batch_id)
    return [found] if found else []


async def _precheck(store: Store, *, found: list[ActionRequest], actor: Actor, verb: str,
                    is_responder: ResponderCheck, correlation_id: str | None) -> Outcome | None:
    """The refusals shared by approve and reject; None when the actor may decide."""
    from services.store import incidents as incident_repo

    incident_id = found[0].incident_id if found else None
    incident = await incident_repo.get(store, incident_id=incident_id) if incident_id else None
    target = incident.target_upn if incident else ""
    if not await is_responder(actor.id):
        return await refuse_access(store, actor=actor, attempted=f"{verb} a request", incident_id=incident_id,
                                   correlation_id=correlation_id, target=target)
    if not found or incident is None:
        return await refuse_request(store, actor=actor, code=OutcomeCode.NOT_FOUND, incident_id=None,
                                    correlation_id=correlation_id, message="That request does not exist.")
    if same_account(actor.id, incident.target_user_id):
        return await refuse_request(store, actor=actor, code=OutcomeCode.OWN_ACCOUNT, incident_id=incident_id,
                                    correlation_id=correlation_id, target=target,
                                    message=f"You cannot {verb} actions on your own account; ask another responder.")
    return None


async def _awaiting(store: Store, *, request_id: str, actor: Actor, verb: str, is_responder: ResponderCheck,
                    correlation_id: str | None) -> list[ActionRequest] | Outcome:
    """The requests of `request_id` (one, or a batch) still awaiting approval, or the answer refusing."""
    found = await _load(store, request_id)
    refused = await _precheck(store, found=found, actor=actor, verb=verb, is_responder=is_responder,
                              correlation_id=correlation_id)
    if refused is not None:
        return refused
    awaiting = [r for r in found if r.state is RequestState.AWAITING_APPROVAL]
    return awaiting or _already(found[0])


async def approve(store: Store, *, request_id: str, approver: Actor, is_responder: ResponderCheck,
                  correlation_id: str | None = None, now: datetime | None = None) -> Outcome:
    """Approve one request, or every awaiting request of a batch (`bat_…`), as the second responder."""
    now = now or utcnow()
    awaiting = await _awaiting(store, request_id=request_id, actor=approver, verb="approve",
                               is_responder=is_responder, correlation_id=correlation_id)
    if isinstance(awaiting, Outcome):
        return await audited_refusal(store, awaiting, actor=approver, correlation_id=correlation_id)
    mine = [r for r in awaiting if same_account(r.requested_by_id, approver.id)]
    if mine:
        return await refuse_request(
            store, actor=approver, code=OutcomeCode.SELF_APPROVAL, incident_id=awaiting[0].incident_id,
            correlation_id=correlation_id,
            message=f"{title(mine[0].action)} is high-impact and you requested it, so a different "
                    "responder must approve it.")
    outcome = await _decide(store, awaiting=awaiting, actor=approver, to=RequestState.APPROVED,
                            correlation_id=correlation_id, now=now)
    return await audited_refusal(store, outcome, actor=approver, correlation_id=correlation_id)


async def reject(store: Store, *, request_id: str, actor: Actor, is_responder: ResponderCheck,
                 correlation_id: str | None = None, now: datetime | None = None, reason: str | None = None) -> Outcome:
    """Reject a request (or a batch) awaiting approval. When its own requester does so, it is cancelled.
    A reason, when given, is kept in the audit row."""
    now = now or utcnow()
    awaiting = await _awaiting(store, request_id=request_id, actor=actor, verb="reject",
                               is_responder=is_responder, correlation_id=correlation_id)
    if isinstance(awaiting, Outcome):
        return await audited_refusal(store, awaiting, actor=actor, correlation_id=correlation_id)
    to = RequestState.CANCELLED if same_account(awaiting[0].requested_by_id, actor.id) else RequestState.REJECTED
    outcome = await _decide(store, awaiting=awaiting, actor=actor, to=to, correlation_id=correlation_id, now=now,
                            reason=clean_reason(reason))
    return await audited_refusal(store, outcome, actor=actor, correlation_id=correlation_id)


async def break_glass(store: Store, *, request_id: str, actor: Actor, reason: str | None,
                      is_responder: ResponderCheck, correlation_id: str | None = None,
                      now: datetime | None = None) -> Outcome:
    """Approve high-impact requests without a second responder, in an emergency: responders only, never on
    one's own account, a reason required. Audited as `request.break_glass` and announced in the incident's
    thread (the announcement is stored with the audit row; the bot posts it)."""
    now = now or utcnow()
    cleaned = clean_reason(reason)
    if cleaned is None:
        refusal = Outcome(False, OutcomeCode.BAD_REASON,
                          f"Break-glass needs a reason (up to {REASON_MAX} characters); nothing was run.")
        return await audited_refusal(store, refusal, actor=actor, correlation_id=correlation_id)
    awaiting = await _awaiting(store, request_id=request_id, actor=actor, verb="break glass on",
                               is_responder=is_responder, correlation_id=correlation_id)
    if isinstance(awaiting, Outcome):
        return awaiting
    outcome = await _decide(store, awaiting=awaiting, actor=actor, to=RequestState.APPROVED,
                            correlation_id=correlation_id, now=now, reason=cleaned, break_glass=True)
    return await audited_refusal(store, outcome, actor=actor, correlation_id=correlation_id)


async def _decide(store: Store, *, awaiting: list[ActionRequest], actor: Actor, to: RequestState,
                  correlation_id: str | None, now: datetime, reason: str | None = None,
                  break_glass: bool = False) -> Outcome:
    incident_id = awaiting[0].incident_id
    changed: list[ActionRequest] = []
    expired: list[ActionRequest] = []
    async with store.write() as conn:
        incident = await lock_incident(conn, incident_id)
        assert incident is not None
        if incident.is_closed:
            return await refuse_closed_in(conn, incident=incident, actor=actor, correlation_id=correlation_id, now=now)
        for req in awaiting:
            if req.expires_at is not None and req.expires_at <= now:
                if await _expire(conn, req, target=incident.target_upn, now=now):
                    expired.append(dataclasses.replace(req, state=RequestState.EXPIRED, finished_at=now))
                continue
            values = {"state": to, "decided_by_id": actor.id, "decided_by_name": actor.name, "decided_at": now}
            if to is not RequestState.APPROVED:
                values["finished_at"] = now
            if await requests.decide(conn, request_id=req.id, values=values, now=now):
                if break_glass:
                    event, detail = "request.break_glass", (f"{actor.name} approved {req.action} ({req.id}) under "
                                                            f"break-glass, without a second responder: {reason}")
                else:
                    event = f"request.{to.value}"
                    detail = (f"{actor.name} {to.value} {req.action} ({req.id}) requested by {req.requested_by_name}"
                              + (f": {reason}" if reason else "."))
                await audit.append(conn, actor=actor, event=event, target=incident.target_upn,
                                   outcome="break_glass" if break_glass else to.value, incident_id=incident_id,
                                   correlation_id=correlation_id, at=now, detail=detail)
                changed.append(dataclasses.replace(req, **values))  # type: ignore[arg-type]
        if break_glass and changed:
            await announcements.leave_in(
                conn, incident_id=incident_id, now=now,
                text=f"Break-glass: {actor.name} ran {', '.join(title(r.action) for r in changed)} on "
                     f"{incident.target_upn} from the command line without a second responder's approval. "
                     f"Reason: {reason}")
    if changed and break_glass:
        return Outcome(True, OutcomeCode.APPROVED,
                       f"Break-glass: {', '.join(title(r.action) for r in changed)} run now without a second "
                       "responder; this is audited and announced in the incident's thread.", incident_id,
                       tuple(changed + expired))
    if changed:
        verb = {RequestState.APPROVED: "Approved", RequestState.REJECTED: "Rejected"}.get(to, "Cancelled")
        tail = "; they run now." if to is RequestState.APPROVED else "."
        code = {RequestState.APPROVED: OutcomeCode.APPROVED, RequestState.REJECTED: OutcomeCode.REJECTED}.get(
            to, OutcomeCode.CANCELLED)
        return Outcome(True, code, f"{verb} {', '.join(title(r.action) for r in changed)}{tail}", incident_id,
                       tuple(changed + expired))
    if expired:
        return _already(expired[0])
    # Someone else decided between our read and our write: say who.
    latest = await requests.get(store, request_id=awaiting[0].id)
    return _already(latest or awaiting[0])


async def _expire(conn: Connection, req: ActionRequest, *, target: str, now: datetime) -> bool:
    if not await requests.expire(conn, request_id=req.id, now=now):
        return False
    await audit.append(conn, actor=audit.SYSTEM_ACTOR, event="request.expired", target=target, outcome="expired",
                       incident_id=req.incident_id, correlation_id=req.correlation_id, at=now,
                       detail=f"{req.action} ({req.id}) expired without a second responder's approval.")
    return True
