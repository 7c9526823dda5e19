"""`help` and `/compromised help`: the help card (anyone may read it)."""

from __future__ import annotations

from cards import help_card
from dialogs import commands
from dialogs.flows.deps import FlowDeps
from dialogs.router import Outcome, Reply, Router, Turn


async def on_help(deps: FlowDeps, turn: Turn) -> Outcome:
    return Outcome(outputs=(Reply(card=help_card(deps.card_ctx())),))


def register(router: Router, deps: FlowDeps) -> None:
    router.on_command(commands.Help, lambda turn: on_help(deps, turn))
