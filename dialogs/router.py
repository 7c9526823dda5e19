"""Plain turns in, plain outputs out: the seam between the Bot Framework gateway and the flows.

The gateway turns an activity into a `Turn`; the router picks a handler by command type (messages)
or by verb (card clicks) and returns an `Outcome`: outputs to deliver during the turn, plus optional
`after` work that the gateway starts only once the HTTP response (the invoke's "running" card) has
gone back — acknowledge first, work after. Handlers never see botbuilder types.

The flows (investigation, approvals, execution) register their handlers with `Router.on_command`
and `Router.on_verb`; until they land the defaults below answer with plain sentences.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from dialogs import commands
from dialogs.commands import Command

log = logging.getLogger("contain.dialogs")

TurnKind = Literal["message", "invoke", "conversationUpdate"]


@dataclass(frozen=True, slots=True)
class Person:
    """A Teams user: AAD object id (what policy and audit use), display name, and the channel
    account id the Bot Connector needs to open a 1:1 chat."""

    aad_id: str
    name: str
    channel_id: str = ""


@dataclass(frozen=True, slots=True)
class Turn:
    kind: TurnKind
    user: Person
    conversation_id: str
    conversation_type: str  # personal | channel | groupChat
    tenant_id: str | None
    activity_id: str | None
    reply_to_id: str | None  # for a card click: the id of the message holding the card
    text: str = ""
    command: Command | None = None  # messages only
    verb: str | None = None  # card clicks only (adaptiveCard/action)
    data: Mapping[str, Any] = field(default_factory=dict)  # the action's data, as sent: never trusted
    inputs: Mapping[str, Any] = field(default_factory=dict)  # the card's input values
    members_added: tuple[str, ...] = ()  # conversationUpdate: channel account ids
    bot_added: bool = False
    team_id: str | None = None
    channel_name: str | None = None
    auth_off: bool = False  # every card says so when True
    sandbox: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """A new message in the turn's conversation (in the same thread for channel messages)."""

    text: str | None = None
    card: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class UpdateCard:
    """Replace a card in place; `activity_id` None means the card that was clicked."""

    card: dict[str, Any]
    activity_id: str | None = None


@dataclass(frozen=True, slots=True)
class InvokeCard:
    """The card returned in the invoke response itself (the immediate "running…" card)."""

    card: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """A 1:1 chat message to one person (temporary passwords go only this way)."""

    user: Person
    text: str


Output = Reply | UpdateCard | InvokeCard | PrivateMessage


class Poster(Protocol):
    """What `after` work uses to talk back once the turn is over (the gateway continues the
    conversation with the bot app id). `post` returns the new activity's id when there is one."""

    async def post(self, output: Output) -> str | None: ...


AfterWork = Callable[[Poster], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Outcome:
    outputs: tuple[Output, ...] = ()
    after: AfterWork | None = None


Handler = Callable[[Turn], Awaitable[Outcome]]
ReferenceSink = Callable[[Turn, dict[str, Any]], Awaitable[None]]

# Keys a card may use for its ids; everything else in an action's data is an input value.
CARD_ID_KEYS = frozenset({"incident", "request", "nonce", "verb", "msteams"})


def say(text: str) -> Outcome:
    return Outcome(outputs=(Reply(text=text),))


HELP_TEXT = (
    "Contain investigates and contains a compromised Microsoft 365 account. "
    "Try: /compromised alice@contoso.com, /compromised status alice, /compromised score, "
    "/compromised set-channel, /compromised help."
)


async def _help(turn: Turn) -> Outcome:
    return say(HELP_TEXT)


async def _unknown(turn: Turn) -> Outcome:
    # Silence in channels for chatter that is not addressed to Contain; help in 1:1 and on a mention.
    if turn.conversation_type != "personal" and not turn.text.strip():
        return Outcome()
    return say("Contain did not understand that. " + HELP_TEXT)


async def _refused(turn: Turn) -> Outcome:
    assert isinstance(turn.command, commands.Refused)
    return say(turn.command.reason)


async def _investigate_stub(turn: Turn) -> Outcome:
    assert isinstance(turn.command, commands.Investigate)
    return say(f"Investigating {turn.command.who}…")


async def _status_stub(turn: Turn) -> Outcome:
    assert isinstance(turn.command, commands.Status)
    return say(f"No open incident for {turn.command.who}.")


async def _score_stub(turn: Turn) -> Outcome:
    return say("Secure Score is not available yet.")


async def _set_channel_stub(turn: Turn) -> Outcome:
    return say("Alert threads will be posted in this channel.")


def plain_card(text: str) -> dict[str, Any]:
    """A minimal Adaptive Card with one sentence, for answers before the real cards exist."""
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": [{"type": "TextBlock", "text": text, "wrap": True}],
    }


async def _unknown_verb(turn: Turn) -> Outcome:
    return Outcome(outputs=(InvokeCard(plain_card("This card button is no longer recognised.")),))


class Router:
    """Dispatch table: command type → handler, verb → handler. Errors become one sentence with a
    correlation id; the traceback goes to the log only."""

    def __init__(self, *, on_reference: ReferenceSink | None = None) -> None:
        self._commands: dict[type[Any], Handler] = {
            commands.Investigate: _investigate_stub,
            commands.Status: _status_stub,
            commands.Score: _score_stub,
            commands.SetChannel: _set_channel_stub,
            commands.Help: _help,
            commands.Unknown: _unknown,
            commands.Refused: _refused,
        }
        self._verbs: dict[str, Handler] = {}
        self._on_conversation_update: Handler | None = None
        self.on_reference = on_reference

    def on_command(self, command_type: type[Any], handler: Handler) -> None:
        self._commands[command_type] = handler

    def on_verb(self, verb: str, handler: Handler) -> None:
        self._verbs[verb] = handler

    def wrap_verbs(self, wrap: Callable[[Handler], Handler]) -> None:
        """Wrap every registered card-verb handler (e.g. to record the click once it was handled)."""
        self._verbs = {verb: wrap(handler) for verb, handler in self._verbs.items()}

    def on_conversation_update(self, handler: Handler) -> None:
        self._on_conversation_update = handler

    @property
    def verbs(self) -> frozenset[str]:
        return frozenset(self._verbs)

    async def route(self, turn: Turn) -> Outcome:
        try:
            return await self._dispatch(turn)
        except Exception:
            correlation = uuid.uuid4().hex[:12]
            log.exception("turn failed (correlation id %s, kind %s)", correlation, turn.kind)
            sentence = f"Something went wrong on Contain's side; nothing else was done (correlation id {correlation})."
            if turn.kind == "invoke":
                return Outcome(outputs=(InvokeCard(plain_card(sentence)),))
            return say(sentence)

    async def _dispatch(self, turn: Turn) -> Outcome:
        if turn.kind == "message":
            command = turn.command if turn.command is not None else commands.Unknown(turn.text)
            return await self._commands[type(command)](turn)
        if turn.kind == "invoke":
            handler = self._verbs.get(turn.verb or "", _unknown_verb)
            return await handler(turn)
        if turn.kind == "conversationUpdate" and self._on_conversation_update is not None:
            return await self._on_conversation_update(turn)
        return Outcome()
