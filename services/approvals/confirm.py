"""Creating requests: `confirm` turns a responder's choice into one batch of action requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from services.actions.catalog import is_high_impact, title
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
from services.approvals.lifecycle import unblock_blockers, unblock_refusal
from services.ports import ResponderCheck
from services.store import audit, requests
from services.store import incidents as incident_repo
from services.store.db import Store, new_id, utcnow
from services.store.incidents import lock as lock_incident
from services.store.records import PENDING_STATES, ActionRequest, RequestState
from services.vocabulary import ActionId, Actor, Impact

DEFAULT_TTL = timedelta(minutes=30)


async def confirm(
    store: Store,
    *,
    incident_id: str,
    actions: Sequence[str],
    actor: Actor,
    reason: str | None,
    is_responder: ResponderCheck,
    override_unblock: bool = False,
    undo_of: str | None = None,
    ttl: timedelta = DEFAULT_TTL,
    correlation_id: str | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Create one batch of requests for `actions`: standard ones approved at once, high ones awaiting a
    second responder until now + ttl. Actions already pending in the incident are not requested twice."""
    now = now or utcnow()
    incident = await incident_repo.get(store, incident_id=incident_id)
    target = incident.target_upn if incident else ""
    if not await is_responder(actor.id):
        return await refuse_access(store, actor=actor, attempted=f"request {', '.join(map(str, actions))[:200]}",
                                   incident_id=incident_id if incident else None,
                                   correlation_id=correlation_id, target=target)
    if incident is None:
        return await refuse_request(store, actor=actor, code=OutcomeCode.NOT_FOUND, incident_id=None,
                                    correlation_id=correlation_id, message="That incident does not exist.")
    if same_account(actor.id, incident.target_user_id):
        return await refuse_request(store, actor=actor, code=OutcomeCode.OWN_ACCOUNT, incident_id=incident_id,
                                    correlation_id=correlation_id, target=target,
                                    message="You cannot request actions on your own account; ask another responder.")
    try:
        wanted = list(dict.fromkeys(ActionId(a) for a in actions))
    except ValueError:
        bad = next(a for a in actions if a not in ActionId.__members__.values())
        return await audited_refusal(store, Outcome(
            False, OutcomeCode.UNKNOWN_ACTION, f"{str(bad)[:60]!r} is not an action Contain knows.", incident_id,
            audited=False), actor=actor, correlation_id=correlation_id)
    if not wanted:
        return await audited_refusal(store, Outcome(False, OutcomeCode.UNKNOWN_ACTION, "Choose at least one action.",
                                                    incident_id, audited=False),
                                     actor=actor, correlation_id=correlation_id)
    cleaned = clean_reason(reason)
    if cleaned is None:
        return await audited_refusal(store, Outcome(False, OutcomeCode.BAD_REASON,
                                                    f"A reason is required, up to {REASON_MAX} characters.",
                                                    incident_id, audited=False),
                                     actor=actor, correlation_id=correlation_id)
    outcome = await _create_batch(store, incident_id=incident_id, wanted=wanted, actor=actor, reason=cleaned,
                                  override_unblock=override_unblock, undo_of=undo_of, ttl=ttl,
                                  correlation_id=correlation_id, now=now)
    return await audited_refusal(store, outcome, actor=actor, correlation_id=correlation_id)


async def _create_batch(store: Store, *, incident_id: str, wanted: list[ActionId], actor: Actor, reason: str,
                        override_unblock: bool, undo_of: str | None, ttl: timedelta,
                        correlation_id: str | None, now: datetime) -> Outcome:
    batch_id = new_id("bat")
    async with store.write() as conn:
        incident = await lock_incident(conn, incident_id)
        assert incident is not None
        if incident.is_closed:
            return await refuse_closed_in(conn, incident=incident, actor=actor, correlation_id=correlation_id, now=now)
        if undo_of is not None:
            original = await requests.get_in(conn, request_id=undo_of)
            if original is None or original.incident_id != incident_id:
                return Outcome(False, OutcomeCode.NOT_FOUND, "The action to undo is not part of this incident.",
                               incident_id, audited=False)
        pending = {r.action for r in await requests.for_incident_in(conn, incident_id=incident_id)
                   if r.state in PENDING_STATES}
        fresh = wanted if undo_of else [a for a in wanted if a.value not in pending]
        if not fresh:
            return Outcome(False, OutcomeCode.ALREADY_PENDING,
                           f"{', '.join(title(a) for a in wanted)} already confirmed and pending.",
                           incident_id, audited=False)
        rows: list[dict[str, Any]] = []
        refusals: dict[ActionId, str] = {}
        for action in fresh:
            high = is_high_impact(action, target_is_admin=incident.target_is_admin)
            override = action is ActionId.UNBLOCK_SENDER and override_unblock
            state = RequestState.AWAITING_APPROVAL if high else RequestState.APPROVED
            result = None
            if action is ActionId.UNBLOCK_SENDER and not override:
                missing, _ = await unblock_blockers(conn, incident_id=incident_id,
                                                    batch=tuple(a.value for a in fresh))
                if missing:
                    state = RequestState.REFUSED
                    refusals[action] = unblock_refusal(missing)
                    result = {"action": action.value, "status": "refused", "verified": False,
                              "detail": refusals[action], "request_ids": []}
            rows.append({
                "id": new_id("req", 12), "incident_id": incident_id, "batch_id": batch_id, "action": action.value,
                "impact": (Impact.HIGH if high else Impact.STANDARD).value, "state": state.value,
                "requested_by_id": actor.id, "requested_by_name": actor.name, "reason": reason,
                "requested_at": now,
                "expires_at": now + ttl if state is RequestState.AWAITING_APPROVAL else None,
                "remind_at": now + ttl / 2 if state is RequestState.AWAITING_APPROVAL else None,
                "decided_by_id": actor.id if state is RequestState.APPROVED else None,
                "decided_by_name": actor.name if state is RequestState.APPROVED else None,
                "decided_at": now if state is RequestState.APPROVED else None,
                "override": override, "attempts": 0, "result": result,
                "finished_at": now if state is RequestState.REFUSED else None,
                "undo_of": undo_of, "correlation_id": correlation_id,
            })
        await requests.insert(conn, rows=rows)
        for row in rows:
            action = ActionId(row["action"])
            if action in refusals:
                event, detail = "request.refused", f"{action.value} ({row['id']}): {refusals[action]}"
            else:
                event = "request.confirmed"
                detail = (f"{actor.name} confirmed {action.value} ({row['id']}, {row['impact']} impact"
                          f"{', undo of ' + undo_of if undo_of else ''}): {reason}")
            await audit.append(conn, actor=actor, event=event, target=incident.target_upn, outcome=row["state"],
                               incident_id=incident_id, correlation_id=correlation_id, detail=detail, at=now)
            if row["override"]:
                await audit.append(conn, actor=actor, event="request.override", target=incident.target_upn,
                                   outcome="override", incident_id=incident_id, correlation_id=correlation_id, at=now,
                                   detail=f"{actor.name} overrode the unblock_sender precondition "
                                          f"(reset_password and revoke_sessions first): {reason}")
        created = tuple(await requests.for_batch_in(conn, batch_id=batch_id))
    return Outcome(True, OutcomeCode.CONFIRMED, _confirm_message(created), incident_id, created)


def _confirm_message(created: Sequence[ActionRequest]) -> str:
    now_ = [r for r in created if r.state is RequestState.APPROVED]
    wait = [r for r in created if r.state is RequestState.AWAITING_APPROVAL]
    refused = [r for r in created if r.state is RequestState.REFUSED]
    parts = []
    if now_:
        parts.append(f"{', '.join(title(r.action) for r in now_)} will run now")
    if wait:
        parts.append(f"{', '.join(title(r.action) for r in wait)} wait{'s' if len(wait) == 1 else ''} "
                     "for a second responder")
    sentence = "Confirmed: " + "; ".join(parts) + "." if parts else ""
    if refused:
        sentence = (sentence + " " if sentence else "") + str((refused[0].result or {}).get("detail", ""))
    return sentence
