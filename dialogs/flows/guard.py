"""The checks every card click passes before anything else, and the shape of a refusal.

Order: a redelivered activity is answered without acting; the clicker must be a responder; the ids
in the card data must name things that exist and belong together. A refusal answers the invoke with
the current card and one sentence, writes an audit row, and never executes anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cards import notice_card
from dialogs.flows.deps import FlowDeps, actor_of, correlation
from dialogs.flows.render import current_card, with_notice
from dialogs.router import InvokeCard, Outcome, Turn
from services.approvals.common import refuse_access
from services.store import audit, dedupe
from services.store import incidents as incident_repo
from services.store.records import Incident

log = logging.getLogger("contain.flows")

NOT_RESPONDER = "Only members of the responders group can act on incidents; this attempt was recorded."
NO_IDENTITY = "Contain could not tell who clicked; nothing was done."
REPLAYED = "This click was already handled; nothing was done again."


@dataclass(frozen=True, slots=True)
class Click:
    """A card click that passed the common checks."""

    turn: Turn
    correlation_id: str


async def refuse(deps: FlowDeps, turn: Turn, sentence: str, *, incident: Incident | None = None,
                 event: str = "card.refused", correlation_id: str | None = None, audited: bool = False
                 ) -> Outcome:
    """Answer the click with the incident's current card (when there is one) and the sentence."""
    correlation_id = correlation_id or correlation()
    if not audited:
        await audit.record(deps.store, actor=actor_of(turn), event=event,
                           target=incident.target_upn if incident else "", outcome="refused",
                           incident_id=incident.id if incident else None, correlation_id=correlation_id,
                           detail=f"{turn.verb or 'card'}: {sentence}")
    ctx = deps.card_ctx(correlation_id)
    if incident is not None:
        card = with_notice(await current_card(ctx, deps.store, incident), sentence)
    else:
        card = notice_card(ctx, text=sentence, tone="warning")
    return Outcome(outputs=(InvokeCard(card),))


async def admit(deps: FlowDeps, turn: Turn, *, attempted: str) -> Click | Outcome:
    """Replay, identity and responder checks. Returns a Click to go on with, or the refusal."""
    correlation_id = correlation()
    if not turn.user.aad_id:
        return await refuse(deps, turn, NO_IDENTITY, correlation_id=correlation_id)
    # Recorded as handled only after the handler ran (flows.install wraps every verb), so a click whose
    # instance died before deciding is handled when Teams redelivers it.
    if turn.activity_id and await dedupe.activity_seen(deps.store, activity_id=f"invoke:{turn.activity_id}"):
        return await refuse(deps, turn, REPLAYED, event="card.replayed", correlation_id=correlation_id)
    if not await deps.is_responder(turn.user.aad_id):
        await refuse_access(deps.store, actor=actor_of(turn), attempted=attempted, incident_id=None,
                            correlation_id=correlation_id)
        return await refuse(deps, turn, NOT_RESPONDER, correlation_id=correlation_id, audited=True)
    return Click(turn=turn, correlation_id=correlation_id)


async def open_incident_of(deps: FlowDeps, click: Click, incident_id: str | None) -> Incident | Outcome:
    """The incident a card names, if it exists and is not closed."""
    incident = await incident_repo.get(deps.store, incident_id=incident_id) if incident_id else None
    if incident is None:
        return await refuse(deps, click.turn, "That incident does not exist.", correlation_id=click.correlation_id)
    if incident.is_closed:
        return await refuse(deps, click.turn, f"Incident {incident.id} is closed; it takes no more actions.",
                            incident=incident, correlation_id=click.correlation_id)
    return incident


def invoke_card(card: dict) -> Outcome:  # type: ignore[type-arg]
    return Outcome(outputs=(InvokeCard(card),))
