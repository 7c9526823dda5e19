"""`contain.accept`: a responder accepts an open finding without acting on it, with a reason.

The card sends the incident id; the finding's opaque key and the reason arrive as inputs. Both are
checked server-side against the stored investigation (services.store.incidents.accept_finding), the
decision is audited, and the card is redrawn: "Contained" once nothing is left open.
"""

from __future__ import annotations

from cards import verbs as v
from dialogs.flows.deps import FlowDeps, actor_of
from dialogs.flows.guard import Click, guarded, incident_of_card, invoke_card, refuse
from dialogs.flows.render import current_card
from dialogs.router import Outcome, Poster, Reply, Router, UpdateCard
from services.approvals.common import clean_reason
from services.store import incidents as incident_repo

MAX_KEY = 32


@guarded("accept a finding", load=incident_of_card)
async def on_accept(deps: FlowDeps, admitted: Click) -> Outcome:
    turn, incident = admitted.turn, admitted.open_incident
    finding = turn.inputs.get(v.FINDING_INPUT)
    reason = turn.inputs.get(v.ACCEPT_REASON_INPUT)
    cleaned = clean_reason(reason if isinstance(reason, str) else None)
    if not isinstance(finding, str) or not finding.startswith("fnd_") or len(finding) > MAX_KEY:
        return await refuse(deps, turn, "Choose the finding to accept.", incident=incident,
                            correlation_id=admitted.correlation_id)
    if cleaned is None:
        return await refuse(deps, turn, "Give a reason for accepting the finding (up to 500 characters).",
                            incident=incident, correlation_id=admitted.correlation_id)
    accepted = await incident_repo.accept_finding(deps.store, incident_id=incident.id, finding=finding,
                                                  actor=actor_of(turn), reason=cleaned,
                                                  correlation_id=admitted.correlation_id)
    if not accepted.ok or accepted.incident is None:
        return await refuse(deps, turn, accepted.sentence, incident=incident, correlation_id=admitted.correlation_id)
    updated = accepted.incident
    card = await current_card(deps.card_ctx(admitted.correlation_id), deps.store, updated)

    async def after(poster: Poster) -> None:
        if not updated.conversation_ref:
            return
        thread = deps.post_to(updated.conversation_ref)
        if updated.card_activity_id and turn.reply_to_id != updated.card_activity_id:
            await thread.post(UpdateCard(card, activity_id=updated.card_activity_id))
        who = turn.user.name or "a responder"
        await thread.post(Reply(text=f"{who} accepted a finding without action: {accepted.sentence} "
                                     f"Reason: {cleaned}"))

    return Outcome(outputs=invoke_card(card).outputs, after=after)


def register(router: Router, deps: FlowDeps) -> None:
    router.on_verb(v.ACCEPT, lambda turn: on_accept(deps, turn))
