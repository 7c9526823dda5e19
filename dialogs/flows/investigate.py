"""`/compromised <who>`, the "which account?" choice and "open a new incident".

Acknowledge first, work after: the turn answers "Investigating alice…" at once; resolving, the
one-fan-out investigation, opening the incident and posting its card happen after the answer is out.
The card's activity id and the conversation reference are kept on the incident so every later update
lands on the same card and every later message in the same thread.
"""

from __future__ import annotations

from datetime import datetime

from cards import choice_card, existing_incident_card, incident_card, notice_card
from cards import verbs as v
from dialogs import commands
from dialogs.flows.deps import FlowDeps, actor_of, card_id, correlation, remember_person, turn_reference
from dialogs.flows.guard import Click, guarded, incident_of_card, invoke_card, refuse
from dialogs.flows.render import investigation_of
from dialogs.router import Outcome, Poster, Reply, Router, Turn, say
from services.approvals.common import refuse_access, same_account
from services.findings.investigation import investigate
from services.findings.resolve import resolve
from services.store import audit, dedupe
from services.store import incidents as incident_repo
from services.store import requests as request_repo
from services.store.records import PENDING_STATES, IncidentSource
from services.tenant.errors import TenantError
from services.vocabulary import Ambiguous, FindingKind, Investigation, NotFound, UserRef

NOT_RESPONDER = "Only members of the responders group can use Contain; this attempt was recorded."
OWN_ACCOUNT = "You cannot open an incident about your own account; ask another responder."


def _cutoff(inv: Investigation) -> datetime | None:
    """The first suspicious sign-in: reset_mfa removes methods registered from then on."""
    for finding in inv.findings:
        raw = finding.details.get("firstSuspicious") if finding.kind is FindingKind.SUSPICIOUS_SIGNIN else None
        if isinstance(raw, str):
            try:
                return datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                return None
    return None


async def start_incident(deps: FlowDeps, turn: Turn, poster: Poster, user: UserRef, correlation_id: str) -> None:
    """Open (or point at) the incident for `user` and post its card in this conversation."""
    actor = actor_of(turn)
    ctx = deps.card_ctx(correlation_id)
    if same_account(actor.id, user.id):
        await audit.record(deps.store, actor=actor, event="request.refused", target=user.user_principal_name,
                           outcome="refused", correlation_id=correlation_id, detail=OWN_ACCOUNT)
        await poster.post(Reply(text=OWN_ACCOUNT))
        return
    existing = await incident_repo.find_open(deps.store, target_user_id=user.id)
    if existing is None:
        try:
            inv = await investigate(tenant=deps.tenant, user=user)
        except TenantError as exc:
            await poster.post(Reply(text=f"Contain could not investigate {user.display_name}: {exc.sentence}"))
            return
        opened = await incident_repo.open_incident(
            deps.store, target=inv.user, source=IncidentSource.COMMAND, opened_by=actor,
            investigation=inv.to_json(), target_is_admin=inv.is_admin, cutoff=_cutoff(inv),
            correlation_id=correlation_id)
        if opened.created:
            card = incident_card(ctx, incident_id=opened.incident.id, investigation=inv)
            activity_id = await poster.post(Reply(card=card))
            await incident_repo.set_card(deps.store, incident_id=opened.incident.id,
                                         conversation_ref=await turn_reference(deps, turn),
                                         conversation_id=turn.conversation_id, card_activity_id=activity_id)
            return
        existing = opened.incident
    if existing.card_activity_id is None and existing.source is IncidentSource.COMMAND:
        # Opened by an instance that stopped before posting its card: post it here instead of pointing
        # at a thread that does not exist.
        activity_id = await poster.post(Reply(card=incident_card(ctx, incident_id=existing.id,
                                                                 investigation=investigation_of(existing))))
        await incident_repo.set_card(deps.store, incident_id=existing.id,
                                     conversation_ref=await turn_reference(deps, turn),
                                     conversation_id=turn.conversation_id, card_activity_id=activity_id)
        return
    await poster.post(Reply(card=existing_incident_card(ctx, incident_id=existing.id, target=user,
                                                        opened_at=existing.opened_at)))


async def on_investigate(deps: FlowDeps, turn: Turn) -> Outcome:
    assert isinstance(turn.command, commands.Investigate)
    who = turn.command.who
    correlation_id = correlation()
    if not turn.user.aad_id or not await deps.is_responder(turn.user.aad_id):
        await refuse_access(deps.store, actor=actor_of(turn), attempted=f"investigate {who[:80]}",
                            incident_id=None, correlation_id=correlation_id)
        return say(NOT_RESPONDER)

    # Acknowledge first, work after: the turn answers at once; the replay check (a database read) and
    # everything else run once the answer is out.
    async def after(poster: Poster) -> None:
        if turn.activity_id and await dedupe.activity_seen(deps.store, activity_id=f"message:{turn.activity_id}"):
            return  # Teams redelivered the message: it was handled the first time
        await poster.post(Reply(text=f"Investigating {who}…"))
        await remember_person(deps, turn)
        try:
            found = await resolve(deps.tenant, who)
        except TenantError as exc:
            await poster.post(Reply(text=f"Contain could not look up {who}: {exc.sentence}"))
            return
        if isinstance(found, NotFound):
            await poster.post(Reply(text=f"Nobody in the tenant matches '{who}'."))
        elif isinstance(found, Ambiguous):
            nonce = await dedupe.save_choice(deps.store, query=who, candidate_ids=[u.id for u in found.candidates],
                                             created_by_id=turn.user.aad_id)
            await poster.post(Reply(card=choice_card(deps.card_ctx(correlation_id), query=who, choice_id=nonce,
                                                     candidates=found.candidates)))
        else:
            await start_incident(deps, turn, poster, found.user, correlation_id)
        if turn.activity_id:  # handled: a redelivery from now on is a replay
            await dedupe.seen_activity(deps.store, activity_id=f"message:{turn.activity_id}")

    return Outcome(after=after)


@guarded("pick an account to investigate")
async def on_choose(deps: FlowDeps, admitted: Click) -> Outcome:
    turn = admitted.turn
    nonce = card_id(turn.data, "choice", "chc_")
    candidates = await dedupe.get_choice(deps.store, nonce=nonce) if nonce else None
    if candidates is None:
        return await refuse(deps, turn, "That choice has expired; type the command again.",
                            correlation_id=admitted.correlation_id)
    user_id = turn.data.get("user")
    if not isinstance(user_id, str) or user_id not in candidates:
        return await refuse(deps, turn, "That account was not one of the choices; nothing was done.",
                            correlation_id=admitted.correlation_id)
    user = await deps.tenant.get_user(user_id=user_id)
    if user is None:
        return await refuse(deps, turn, "That account no longer exists.", correlation_id=admitted.correlation_id)
    return _investigating(deps, admitted, user)


def _investigating(deps: FlowDeps, click: Click, user: UserRef) -> Outcome:
    async def after(poster: Poster) -> None:
        await start_incident(deps, click.turn, poster, user, click.correlation_id)

    card = notice_card(deps.card_ctx(click.correlation_id), text=f"Investigating {user.display_name}…")
    return Outcome(outputs=invoke_card(card).outputs, after=after)


@guarded("open a new incident", load=incident_of_card, own_account=OWN_ACCOUNT)
async def on_new_incident(deps: FlowDeps, admitted: Click) -> Outcome:
    """Close the account's current incident (audited) and open a fresh one with a new investigation."""
    turn, incident = admitted.turn, admitted.open_incident
    actor = actor_of(turn)
    reqs = await request_repo.for_incident(deps.store, incident_id=incident.id)
    if any(r.state in PENDING_STATES for r in reqs):
        return await refuse(deps, turn, "This incident still has actions pending; finish or reject them first.",
                            incident=incident, correlation_id=admitted.correlation_id)
    await remember_person(deps, turn)
    await incident_repo.close(deps.store, incident_id=incident.id, actor=actor, correlation_id=admitted.correlation_id,
                              reason=f"Superseded: {actor.name} opened a new incident for this account.")
    user = await deps.tenant.get_user(user_id=incident.target_user_id)
    if user is None:
        return await refuse(deps, turn, "That account no longer exists.", correlation_id=admitted.correlation_id)
    return _investigating(deps, admitted, user)


def register(router: Router, deps: FlowDeps) -> None:
    router.on_command(commands.Investigate, lambda turn: on_investigate(deps, turn))
    router.on_verb(v.CHOOSE, lambda turn: on_choose(deps, turn))
    router.on_verb(v.NEW_INCIDENT, lambda turn: on_new_incident(deps, turn))
