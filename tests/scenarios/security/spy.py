"""A router that records every handler call, so a security test can assert that nothing ran."""

from __future__ import annotations

from dialogs import commands
from dialogs.router import InvokeCard, Outcome, Router, Turn, plain_card, say


class SpyRouter(Router):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Turn] = []

        async def record(turn: Turn) -> Outcome:
            self.calls.append(turn)
            if turn.kind == "invoke":
                return Outcome(outputs=(InvokeCard(plain_card("Running…")),))
            return say("executed")

        for command_type in (commands.Investigate, commands.Status, commands.Score, commands.SetChannel):
            self.on_command(command_type, record)
        for verb in ("confirm", "approve", "reject", "close"):
            self.on_verb(verb, record)
        self.on_conversation_update(record)

    @property
    def executed(self) -> list[Turn]:
        return self.calls
