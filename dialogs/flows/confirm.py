"""From the incident card's toggles to a confirmed batch: `contain.confirm` then `contain.run`.

The confirm step keeps the chosen actions server-side under a single-use nonce; the Run button
carries only the incident id and that nonce, so nothing about what runs comes from the card.
Run answers the invoke at once with the running (or awaiting-approval) card; the worker is woken
only after that answer is out.
"""

from __future__ import annotations

from cards import confirm_card
from cards import verbs as v
from dialogs.flows.deps import FlowDeps, actor_of, card_id, remember_person
from dialogs.flows.guard import Click, guarded, incident_of_card, invoke_card, refuse
from dialogs.flows.render import current_card, investigation_of, target_of, with_notice
from dialogs.router import Outcome, Poster, Router, Turn, UpdateCard
from services import approvals
from services.approvals.common import OutcomeCode, clean_reason
from services.store import dedupe
from services.store.records import Incident
from services.vocabulary import ActionId

OWN_ACCOUNT = "You cannot request actions on your own account; ask another responder."
NONCE_PREFIX = "confirm:"


def chosen_actions(inputs: dict[str, object]) -> list[ActionId] | str:
    """Toggled actions from the card's inputs, or a refusal sentence when one is not ours."""
    chosen: list[ActionId] = []
    for key, value in inputs.items():
        if not key.startswith(v.TOGGLE_PREFIX):
            continue
        name = key[len(v.TOGGLE_PREFIX):]
        if name not in ActionId._value2member_map_:
            return "The card asked for an action Contain does not know; nothing was done."
        if value is True or value == "true":
            chosen.append(ActionId(name))
    return list(dict.fromkeys(chosen))


@guarded("confirm actions", load=incident_of_card, own_account=OWN_ACCOUNT)
async def on_confirm(deps: FlowDeps, admitted: Click) -> Outcome:
    turn, incident = admitted.turn, admitted.open_incident
    actions = chosen_actions(dict(turn.inputs))
    if isinstance(actions, str):
        return await refuse(deps, turn, actions, incident=incident, correlation_id=admitted.correlation_id)
    await remember_person(deps, turn)
    # The nonce's stored list is [incident id, action ids…]: Run trusts only this.
    nonce = await dedupe.save_choice(deps.store, query=NONCE_PREFIX + incident.id,
                                     candidate_ids=[incident.id, *actions], created_by_id=turn.user.aad_id,
                                     ttl=deps.ttl)
    card = confirm_card(deps.card_ctx(admitted.correlation_id), incident_id=incident.id, nonce=nonce,
                        target=target_of(incident), actions=actions, target_is_admin=incident.target_is_admin,
                        cautions=investigation_of(incident).cautions)
    return invoke_card(card)


@guarded("run actions", load=incident_of_card, own_account=OWN_ACCOUNT)
async def on_run(deps: FlowDeps, admitted: Click) -> Outcome:
    turn, incident, cid = admitted.turn, admitted.open_incident, admitted.correlation_id
    nonce = card_id(turn.data, "nonce", "chc_")
    stored = await dedupe.get_choice(deps.store, nonce=nonce) if nonce else None
    if not stored or stored[0] != incident.id:
        return await refuse(deps, turn, "This confirmation is not valid for this incident; nothing was done.",
                            incident=incident, correlation_id=cid)
    reason = turn.inputs.get(v.REASON_INPUT)
    if clean_reason(reason if isinstance(reason, str) else None) is None:
        card = confirm_card(deps.card_ctx(cid), incident_id=incident.id, nonce=nonce or "", target=target_of(incident),
                            actions=[ActionId(a) for a in stored[1:]], target_is_admin=incident.target_is_admin,
                            cautions=investigation_of(incident).cautions)
        return invoke_card(with_notice(card, "Give a reason (up to 500 characters); it is kept in the audit log."))
    # Single use: a double click or a second responder pressing the same Run button does nothing more.
    assert nonce is not None
    # Checked here, consumed once the confirm is stored: two clicks racing both get here, and the approval
    # state machine answers the second with "already pending".
    if await dedupe.activity_seen(deps.store, activity_id=f"nonce:{nonce}"):
        return await refuse(deps, turn, "This confirmation was already used; nothing was run again.",
                            incident=incident, correlation_id=cid)
    outcome = await approvals.confirm(deps.store, incident_id=incident.id, actions=list(stored[1:]),
                                      actor=actor_of(turn), reason=str(reason), is_responder=deps.is_responder,
                                      ttl=deps.ttl, correlation_id=cid)
    if outcome.ok:
        await dedupe.seen_activity(deps.store, activity_id=f"nonce:{nonce}")
    return await answer(deps, turn, incident, outcome, cid)


async def answer(deps: FlowDeps, turn: Turn, incident: Incident, outcome: approvals.Outcome, cid: str) -> Outcome:
    """The invoke's answer for a policy outcome: the current card (with the sentence if refused), and on
    success, after the answer is out, wake the worker and bring the thread's card up to date."""
    if not outcome.ok:
        # services.approvals audited the refusal (every one of them); the card only shows it.
        refused = await refuse(deps, turn, outcome.message, incident=incident, correlation_id=cid, audited=True)
        if outcome.code is OutcomeCode.ALREADY_PENDING and incident.card_activity_id and incident.conversation_ref:
            # The requests exist, so the thread's card should show them; after an instance died between
            # storing them and updating the card, this is what brings the thread back to the truth.
            thread_card = await current_card(deps.card_ctx(cid), deps.store, incident)
            reference = incident.conversation_ref

            async def bring_thread_up_to_date(poster: Poster) -> None:
                await deps.post_to(reference).post(UpdateCard(thread_card, activity_id=incident.card_activity_id))

            return Outcome(outputs=refused.outputs, after=bring_thread_up_to_date)
        return refused
    await remember_person(deps, turn)
    card = await current_card(deps.card_ctx(cid), deps.store, incident)

    async def after(poster: Poster) -> None:
        deps.kick()
        # Clicked from a copy (e.g. a status card in another chat): the thread's card moves on too.
        if incident.card_activity_id and turn.reply_to_id != incident.card_activity_id and incident.conversation_ref:
            await deps.post_to(incident.conversation_ref).post(UpdateCard(card, activity_id=incident.card_activity_id))

    return Outcome(outputs=invoke_card(card).outputs, after=after)


def register(router: Router, deps: FlowDeps) -> None:
    router.on_verb(v.CONFIRM, lambda turn: on_confirm(deps, turn))
    router.on_verb(v.RUN, lambda turn: on_run(deps, turn))
