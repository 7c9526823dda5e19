"""`/compromised status <who>`: the open incident's card as it stands now, buttons included.

Each Playground user has a chat of their own, so this is how a second responder reaches the
approval card: the copy posted here works like the thread's card (the ids are the same).
"""

from __future__ import annotations

from dialogs import commands
from dialogs.flows.deps import FlowDeps, actor_of, correlation, remember_person
from dialogs.flows.render import current_card
from dialogs.router import Outcome, Reply, Router, Turn, say
from services.approvals.common import refuse_access
from services.findings.resolve import resolve
from services.store import incidents as incident_repo
from services.tenant.errors import TenantError
from services.vocabulary import Ambiguous, NotFound

NOT_RESPONDER = "Only members of the responders group can use Contain; this attempt was recorded."


async def responder_or_refusal(deps: FlowDeps, turn: Turn, attempted: str) -> Outcome | None:
    if turn.user.aad_id and await deps.is_responder(turn.user.aad_id):
        await remember_person(deps, turn)
        return None
    await refuse_access(deps.store, actor=actor_of(turn), attempted=attempted, incident_id=None,
                        correlation_id=correlation())
    return say(NOT_RESPONDER)


async def on_status(deps: FlowDeps, turn: Turn) -> Outcome:
    assert isinstance(turn.command, commands.Status)
    who = turn.command.who
    refused = await responder_or_refusal(deps, turn, f"see the status of {who[:80]}")
    if refused is not None:
        return refused
    try:
        found = await resolve(deps.tenant, who)
    except TenantError as exc:
        return say(f"Contain could not look up {who}: {exc.sentence}")
    if isinstance(found, NotFound):
        return say(f"Nobody in the tenant matches '{who}'.")
    if isinstance(found, Ambiguous):
        return say(f"Several accounts match '{who}'; give the full address.")
    incident = await incident_repo.find_open(deps.store, target_user_id=found.user.id)
    if incident is None:
        return say(f"{found.user.display_name} has no open incident.")
    return Outcome(outputs=(Reply(card=await current_card(deps.card_ctx(), deps.store, incident)),))


def register(router: Router, deps: FlowDeps) -> None:
    router.on_command(commands.Status, lambda turn: on_status(deps, turn))
