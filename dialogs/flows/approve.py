"""The second responder's decision, and the two follow-ups that go through the same policy:
`contain.approve` / `contain.reject` {batch}, `contain.undo` {request}, `contain.override_unblock` {batch}.

The batch (or request) id is loaded server-side; the incident comes from it, never from the card.
When the clicked card is an incident's own card, the batch must belong to that incident.
"""

from __future__ import annotations

from cards import verbs as v
from dialogs.flows.confirm import answer
from dialogs.flows.deps import FlowDeps, actor_of
from dialogs.flows.guard import Click, batch_of_card, guarded, refuse, request_of_card
from dialogs.router import Outcome, Router, Turn
from services import approvals
from services.actions import catalog
from services.store.records import Incident, RequestState
from services.vocabulary import ActionId


def _batch(click: Click) -> tuple[Turn, Incident, str]:
    assert click.batch_id is not None  # batch_of_card found requests under it
    return click.turn, click.open_incident, click.batch_id


@guarded("approve a request", load=batch_of_card)
async def on_approve(deps: FlowDeps, click: Click) -> Outcome:
    turn, incident, batch_id = _batch(click)
    outcome = await approvals.approve(deps.store, request_id=batch_id, approver=actor_of(turn),
                                      is_responder=deps.is_responder, correlation_id=click.correlation_id)
    return await answer(deps, turn, incident, outcome, click.correlation_id)


@guarded("reject a request", load=batch_of_card)
async def on_reject(deps: FlowDeps, click: Click) -> Outcome:
    turn, incident, batch_id = _batch(click)
    outcome = await approvals.reject(deps.store, request_id=batch_id, actor=actor_of(turn),
                                     is_responder=deps.is_responder, correlation_id=click.correlation_id)
    return await answer(deps, turn, incident, outcome, click.correlation_id)


@guarded("override the unblock_sender precondition", load=batch_of_card)
async def on_override_unblock(deps: FlowDeps, click: Click) -> Outcome:
    """Lift the sender block although its precondition failed: audited, and high impact, so it waits for
    a second responder like any other high action."""
    turn, incident, _ = _batch(click)
    refused = [r for r in click.requests
               if r.action == ActionId.UNBLOCK_SENDER.value and r.state is RequestState.REFUSED]
    if not refused:
        return await refuse(deps, turn, "Nothing in that request was refused for its precondition; nothing was done.",
                            incident=incident, correlation_id=click.correlation_id)
    outcome = await approvals.confirm(
        deps.store, incident_id=incident.id, actions=[ActionId.UNBLOCK_SENDER.value], actor=actor_of(turn),
        reason=f"Override of the precondition for request {refused[0].id}: {refused[0].reason}",
        is_responder=deps.is_responder, override_unblock=True, ttl=deps.ttl, correlation_id=click.correlation_id)
    return await answer(deps, turn, incident, outcome, click.correlation_id)


@guarded("undo an action", load=request_of_card)
async def on_undo(deps: FlowDeps, admitted: Click) -> Outcome:
    """Undo a succeeded action: block_signin by its counterpart, the others by restoring the snapshot."""
    turn, incident, [original] = admitted.turn, admitted.open_incident, admitted.requests
    action = ActionId(original.action)
    if original.state is not RequestState.SUCCEEDED or not catalog.undoable(action):
        return await refuse(deps, turn, "That action cannot be undone; nothing was done.", incident=incident,
                            correlation_id=admitted.correlation_id)
    reason = f"Undo of {action.value} ({original.id}), requested by {turn.user.name or 'a responder'}."
    counterpart = catalog.undo_action(action)
    if counterpart is not action:
        outcome = await approvals.confirm(deps.store, incident_id=incident.id, actions=[counterpart.value],
                                          actor=actor_of(turn), reason=reason, is_responder=deps.is_responder,
                                          ttl=deps.ttl, correlation_id=admitted.correlation_id)
    else:
        outcome = await approvals.confirm(deps.store, incident_id=incident.id, actions=[action.value],
                                          actor=actor_of(turn), reason=reason, is_responder=deps.is_responder,
                                          undo_of=original.id, ttl=deps.ttl, correlation_id=admitted.correlation_id)
    return await answer(deps, turn, incident, outcome, admitted.correlation_id)


def register(router: Router, deps: FlowDeps) -> None:
    router.on_verb(v.APPROVE, lambda turn: on_approve(deps, turn))
    router.on_verb(v.REJECT, lambda turn: on_reject(deps, turn))
    router.on_verb(v.OVERRIDE_UNBLOCK, lambda turn: on_override_unblock(deps, turn))
    router.on_verb(v.UNDO, lambda turn: on_undo(deps, turn))
