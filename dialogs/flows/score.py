"""`/compromised score`: Microsoft Secure Score and the improvement actions that matter for account
compromise (responders only: it describes the tenant's defences)."""

from __future__ import annotations

from cards import score_card
from dialogs import commands
from dialogs.flows.deps import FlowDeps
from dialogs.flows.render import to_view
from dialogs.flows.status import responder_or_refusal
from dialogs.router import Outcome, Reply, Router, Turn, say
from services.summary.build import Summary, secure_score
from services.tenant.errors import TenantError


async def on_score(deps: FlowDeps, turn: Turn) -> Outcome:
    refused = await responder_or_refusal(deps, turn, "read Secure Score")
    if refused is not None:
        return refused
    try:
        score = await secure_score(tenant=deps.tenant)
    except TenantError as exc:
        return say(f"Contain could not read Secure Score: {exc.sentence}")
    if score is None:
        return say("The tenant has no Secure Score yet.")
    view = to_view(Summary(incident_id="", target_upn="", secure_score=score)).secure_score
    assert view is not None  # a summary with a score has its view
    return Outcome(outputs=(Reply(card=score_card(deps.card_ctx(), score=view)),))


def register(router: Router, deps: FlowDeps) -> None:
    router.on_command(commands.Score, lambda turn: on_score(deps, turn))
