"""The second responder's decision, and the two follow-ups that go through the same policy:
`contain.approve` / `contain.reject` {batch}, `contain.undo` {request}, `contain.override_unblock` {batch}.

The batch (or request) id is loaded server-side; the incident comes from it, never from the card.
When the clicked card is an incident's own card, the batch must belong to that incident.
"""

from __future__ import annotations

from cards import verbs as v
from dialogs.flows.confirm import answer
from dialogs.flows.deps import FlowDeps, actor_of, card_id
from dialogs.flows.guard import Click, admit, refuse
from dialogs.router import Outcome, Router, Turn
from services import approvals
from services.actions import catalog
from services.store import incidents as incident_repo
from services.store import requests as request_repo
from services.store.records import ActionRequest, Incident, RequestState
from services.vocabulary import ActionId

FORGED = "That request does not belong to this incident; nothing was done."
UNKNOWN = "That request does not exist; nothing was done."


async def _load(deps: FlowDeps, click: Click, reqs: list[ActionRequest]) -> Incident | Outcome:
    """The open incident the requests belong to, checked against the card that was clicked."""
    turn = click.turn
    if not reqs:
        return await refuse(deps, turn, UNKNOWN, correlation_id=click.correlation_id)
    incident = await incident_repo.get(deps.store, incident_id=reqs[0].incident_id)
    if incident is None:
        return await refuse(deps, turn, UNKNOWN, correlation_id=click.correlation_id)
    clicked = await _incident_of_card(deps, turn)
    if clicked is not None and clicked.id != incident.id:
        return await refuse(deps, turn, FORGED, incident=clicked, correlation_id=click.correlation_id)
    if incident.is_closed:
        return await refuse(deps, turn, f"Incident {incident.id} is closed; it takes no more actions.",
                            incident=incident, correlation_id=click.correlation_id)
    return incident


async def _incident_of_card(deps: FlowDeps, turn: Turn) -> Incident | None:
    """The incident whose thread card was clicked, when the click came from one."""
    if not turn.reply_to_id:
        return None
    for incident in await incident_repo.list_incidents(deps.store, limit=200):
        if incident.card_activity_id == turn.reply_to_id and incident.conversation_id == turn.conversation_id:
            return incident
    return None


async def _batch(deps: FlowDeps, turn: Turn, attempted: str) -> tuple[Click, Incident, str] | Outcome:
    admitted = await admit(deps, turn, attempted=attempted)
    if isinstance(admitted, Outcome):
        return admitted
    batch_id = card_id(turn.data, "batch", "bat_")
    reqs = await request_repo.for_batch(deps.store, batch_id=batch_id) if batch_id else []
    incident = await _load(deps, admitted, reqs)
    if isinstance(incident, Outcome):
        return incident
    assert batch_id is not None
    return admitted, incident, batch_id


async def on_approve(deps: FlowDeps, turn: Turn) -> Outcome:
    loaded = await _batch(deps, turn, "approve a request")
    if isinstance(loaded, Outcome):
        return loaded
    click, incident, batch_id = loaded
    outcome = await approvals.approve(deps.store, request_id=batch_id, approver=actor_of(turn),
                                      is_responder=deps.is_responder, correlation_id=click.correlation_id)
    return await answer(deps, turn, incident, outcome, click.correlation_id)


async def on_reject(deps: FlowDeps, turn: Turn) -> Outcome:
    loaded = await _batch(deps, turn, "reject a request")
    if isinstance(loaded, Outcome):
        return loaded
    click, incident, batch_id = loaded
    outcome = await approvals.reject(deps.store, request_id=batch_id, actor=actor_of(turn),
                                     is_responder=deps.is_responder, correlation_id=click.correlation_id)
    return await answer(deps, turn, incident, outcome, click.correlation_id)


async def on_override_unblock(deps: FlowDeps, turn: Turn) -> Outcome:
    """Lift the sender block although its precondition failed: audited, and high impact, so it waits for
    a second responder like any other high action."""
    loaded = await _batch(deps, turn, "override the unblock_sender precondition")
    if isinstance(loaded, Outcome):
        return loaded
    click, incident, batch_id = loaded
    reqs = await request_repo.for_batch(deps.store, batch_id=batch_id)
    refused = [r for r in reqs if r.action == ActionId.UNBLOCK_SENDER.value and r.state is RequestState.REFUSED]
    if not refused:
        return await refuse(deps, turn, "Nothing in that request was refused for its precondition; nothing was done.",
                            incident=incident, correlation_id=click.correlation_id)
    outcome = await approvals.confirm(
        deps.store, incident_id=incident.id, actions=[ActionId.UNBLOCK_SENDER.value], actor=actor_of(turn),
        reason=f"Override of the precondition for request {refused[0].id}: {refused[0].reason}",
        is_responder=deps.is_responder, override_unblock=True, ttl=deps.ttl, correlation_id=click.correlation_id)
    return await answer(deps, turn, incident, outcome, click.correlation_id)


async def on_undo(deps: FlowDeps, turn: Turn) -> Outcome:
    """Undo a succeeded action: block_signin by its counterpart, the others by restoring the snapshot."""
    admitted = await admit(deps, turn, attempted="undo an action")
    if isinstance(admitted, Outcome):
        return admitted
    request_id = card_id(turn.data, "request", "req_")
    original = await request_repo.get(deps.store, request_id=request_id) if request_id else None
    incident = await _load(deps, admitted, [original] if original else [])
    if isinstance(incident, Outcome):
        return incident
    assert original is not None
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
