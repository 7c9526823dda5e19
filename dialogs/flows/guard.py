"""The checks every card click passes before anything else, written once, and the shape of a refusal.

    @guarded("close an incident", load=incident_of_card)
    async def on_close(deps: FlowDeps, click: Click) -> Outcome: ...

Order: the clicker must be known; a redelivered activity is answered without acting; the clicker must
be a responder; then the loader reads what the card names server-side (an incident, a batch, a request)
and the guard checks, once for every verb, that it exists, that it belongs to the card that was clicked
(a direct lookup of that card), that the incident is open, and (when asked) that the clicker is not
acting on their own account. A refusal answers the invoke with the current card and one sentence,
writes an audit row, and never executes anything.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cards import notice_card
from dialogs.flows.deps import FlowDeps, actor_of, card_id, correlation
from dialogs.flows.render import current_card, with_notice
from dialogs.router import InvokeCard, Outcome, Turn
from services.approvals.common import refuse_access, same_account
from services.store import audit, dedupe
from services.store import incidents as incident_repo
from services.store import requests as request_repo
from services.store.records import ActionRequest, Incident

log = logging.getLogger("contain.flows")

NOT_RESPONDER = "Only members of the responders group can act on incidents; this attempt was recorded."
NO_IDENTITY = "Contain could not tell who clicked; nothing was done."
REPLAYED = "This click was already handled; nothing was done again."
NO_INCIDENT = "That incident does not exist."
UNKNOWN_REQUEST = "That request does not exist; nothing was done."
FORGED = "That request does not belong to this incident; nothing was done."


@dataclass(frozen=True, slots=True)
class Click:
    """A card click that passed the common checks, with what its card named, loaded server-side."""

    turn: Turn
    correlation_id: str
    incident: Incident | None = None
    requests: tuple[ActionRequest, ...] = ()  # the batch or the request the card named
    batch_id: str | None = None

    @property
    def open_incident(self) -> Incident:
        """The incident of a click whose loader named one (the guard checked it exists)."""
        if self.incident is None:
            raise LookupError("This click was admitted without an incident.")
        return self.incident


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a loader found: the incident and, for approvals and undo, the requests the card named.
    `from_card` asks the guard to check the incident against the card that was clicked."""

    incident: Incident | None
    requests: tuple[ActionRequest, ...] = ()
    batch_id: str | None = None
    from_card: bool = False
    missing: str = NO_INCIDENT


Loader = Callable[[FlowDeps, Turn], Awaitable[Loaded]]
Handler = Callable[[FlowDeps, Click], Awaitable[Outcome]]


async def incident_of_card(deps: FlowDeps, turn: Turn) -> Loaded:
    """The incident id the card carries."""
    incident_id = card_id(turn.data, "incident", "inc_")
    return Loaded(await incident_repo.get(deps.store, incident_id=incident_id) if incident_id else None)


async def batch_of_card(deps: FlowDeps, turn: Turn) -> Loaded:
    """The batch the card carries; the incident comes from the batch, never from the card."""
    batch_id = card_id(turn.data, "batch", "bat_")
    reqs = await request_repo.for_batch(deps.store, batch_id=batch_id) if batch_id else []
    incident = await incident_repo.get(deps.store, incident_id=reqs[0].incident_id) if reqs else None
    return Loaded(incident, tuple(reqs), batch_id=batch_id, from_card=True, missing=UNKNOWN_REQUEST)


async def request_of_card(deps: FlowDeps, turn: Turn) -> Loaded:
    """The request the card carries (undo); the incident comes from the request."""
    request_id = card_id(turn.data, "request", "req_")
    original = await request_repo.get(deps.store, request_id=request_id) if request_id else None
    incident = await incident_repo.get(deps.store, incident_id=original.incident_id) if original else None
    return Loaded(incident, (original,) if original else (), from_card=True, missing=UNKNOWN_REQUEST)


async def incident_of_clicked_card(deps: FlowDeps, turn: Turn) -> Incident | None:
    """The incident whose thread card was clicked, when the click came from one: one indexed lookup."""
    if not turn.reply_to_id or not turn.conversation_id:
        return None
    return await incident_repo.by_card(deps.store, card_activity_id=turn.reply_to_id,
                                       conversation_id=turn.conversation_id)


def guarded(attempted: str, *, load: Loader | None = None, open_only: bool = True, own_account: str | None = None
            ) -> Callable[[Handler], Callable[[FlowDeps, Turn], Awaitable[Outcome]]]:
    """Wrap a card verb's handler in the checks every click passes (see the module docstring).
    `attempted` names the attempt in the audit row of a refused non-responder; `load` reads what the card
    names; `open_only=False` lets a closed incident through (viewing it); `own_account` is the sentence
    refusing a responder who acts on their own account (None: the services decide, as for approvals)."""

    def wrap(handler: Handler) -> Callable[[FlowDeps, Turn], Awaitable[Outcome]]:
        async def checked(deps: FlowDeps, turn: Turn) -> Outcome:
            admitted = await admit(deps, turn, attempted=attempted)
            if isinstance(admitted, Outcome):
                return admitted
            if load is None:
                return await handler(deps, admitted)
            cid = admitted.correlation_id
            loaded = await load(deps, turn)
            incident = loaded.incident
            if incident is None:
                return await refuse(deps, turn, loaded.missing, correlation_id=cid)
            if loaded.from_card:
                clicked = await incident_of_clicked_card(deps, turn)
                if clicked is not None and clicked.id != incident.id:
                    return await refuse(deps, turn, FORGED, incident=clicked, correlation_id=cid)
            if open_only and incident.is_closed:
                return await refuse(deps, turn, f"Incident {incident.id} is closed; it takes no more actions.",
                                    incident=incident, correlation_id=cid)
            if own_account is not None and same_account(turn.user.aad_id, incident.target_user_id):
                return await refuse(deps, turn, own_account, incident=incident, correlation_id=cid)
            return await handler(deps, Click(turn=turn, correlation_id=cid, incident=incident,
                                             requests=loaded.requests, batch_id=loaded.batch_id))

        checked.__name__ = getattr(handler, "__name__", "checked")
        checked.__doc__ = handler.__doc__
        return checked

    return wrap


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


def invoke_card(card: dict) -> Outcome:  # type: ignore[type-arg]
    return Outcome(outputs=(InvokeCard(card),))
