"""Building blocks every card shares: the typed elements we use, the sandbox banner, the envelope
that turns a body into a version 1.5 card dict, and the size check.

Only Adaptive Cards 1.5 elements and properties are used here even though the builder knows newer
and Teams-only ones: the cards must validate against the 1.5 schema and parse cleanly in the
official renderer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from microsoft_teams.cards.core import (
    Action,
    ActionSet,
    AdaptiveCard,
    CardElement,
    Column,
    ColumnSet,
    Container,
    ContainerStyle,
    ExecuteAction,
    Fact,
    FactSet,
    RefreshDefinition,
    TextBlock,
    TextColor,
    TextSize,
)

from cards import verbs
from cards.context import CardContext
from cards.text import plain
from services.vocabulary import UserRef

SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION: Literal["1.5"] = "1.5"
# Characters of a card's JSON as sent (non-ASCII escaped, see size_of). Teams counts the whole activity
# in UTF-16 against its message limit, which Contain takes as 40 KB (dialogs.outbox): 20,480 characters
# of activity, of which the envelope (ids, service URL, reply-to, text) takes up to about two thousand.
SIZE_BUDGET = 18_000

SANDBOX_TEXT = "SANDBOX — drill tenant, not a real organisation"
AUTH_OFF_TEXT = "Authentication is off: for local use only"


def tb(
    text: str,
    *,
    size: TextSize | None = None,
    bold: bool = False,
    color: TextColor | None = None,
    subtle: bool | None = None,
    spacing: str | None = None,
    separator: bool | None = None,
    wrap: bool = True,
) -> TextBlock:
    """A TextBlock. ``text`` must already be trusted or passed through ``plain``."""
    block = TextBlock(text=text or "—", wrap=wrap)
    if size:
        block.size = size
    if bold:
        block.weight = "Bolder"
    if color:
        block.color = color
    if subtle:
        block.is_subtle = True
    if spacing:
        block.spacing = spacing  # type: ignore[assignment]
    if separator:
        block.separator = True
    return block


def facts(pairs: Iterable[tuple[str, str]]) -> FactSet:
    return FactSet(facts=[Fact(title=t, value=v or "—") for t, v in pairs])


def box(items: Sequence[CardElement], *, style: ContainerStyle | None = None, **extra: Any) -> Container:
    container = Container(items=list(items), **extra)
    if style:
        container.style = style
    return container


def row(*columns: Column) -> ColumnSet:
    return ColumnSet(columns=list(columns))


def col(items: Sequence[CardElement], width: str | float = "stretch", **extra: Any) -> Column:
    return Column(items=list(items), width=width, **extra)


def execute(
    title: str, verb: str, data: dict[str, str], *, style: str | None = None, inputs: bool = True
) -> ExecuteAction:
    """An Action.Execute whose data is checked against the verb's allowed id keys. ``inputs=False``
    sends no input values, so a required input elsewhere on the card cannot block the button."""
    allowed = verbs.VERB_DATA_KEYS[verb]
    if set(data) != allowed:
        raise ValueError(f"{verb} carries exactly {sorted(allowed)}, got {sorted(data)}")
    action = ExecuteAction(title=title, verb=verb, data=dict(data))
    if style:
        action.style = style  # type: ignore[assignment]
    if not inputs:
        action.associated_inputs = "none"
    return action


def buttons(actions: Sequence[Action]) -> ActionSet:
    return ActionSet(actions=list(actions))


def banner(ctx: CardContext) -> list[CardElement]:
    """The attention-coloured strip at the top of every card in sandbox or unauthenticated mode."""
    lines: list[CardElement] = []
    if ctx.sandbox:
        lines.append(tb(SANDBOX_TEXT, bold=True, color="Attention"))
    if ctx.auth_off:
        lines.append(tb(AUTH_OFF_TEXT, bold=True, color="Attention", spacing="None"))
    if not lines:
        return []
    return [box(lines, style="attention", bleed=True, id="contain-banner")]


def target_line(user: UserRef) -> TextBlock:
    return tb(f"{plain(user.display_name)} · {plain(user.user_principal_name)}", subtle=True, spacing="None")


def title_block(text: str, *, color: TextColor | None = None) -> TextBlock:
    return tb(text, size="Large", bold=True, color=color)


def card(
    ctx: CardContext,
    body: Sequence[CardElement],
    actions: Sequence[Action] = (),
    *,
    fallback: str,
    refresh_incident: str | None = None,
) -> dict[str, Any]:
    """The envelope: banner + body + actions → a version 1.5 card as a JSON-ready dict."""
    built = AdaptiveCard(version=VERSION, body=[*banner(ctx), *body], fallback_text=fallback)
    if actions:
        built.actions = list(actions)
    if refresh_incident and ctx.refresh_user_ids:
        built.refresh = RefreshDefinition(
            action=execute("Refresh", verbs.REFRESH, {"incident": refresh_incident}, inputs=False),
            user_ids=list(ctx.refresh_user_ids),
        )
    out: dict[str, Any] = built.model_dump(by_alias=True, exclude_none=True)
    return {"$schema": SCHEMA_URL, **out}


def size_of(card_dict: dict[str, Any]) -> int:
    """Bytes on the wire: JSON with non-ASCII escaped, as the bot's serialiser sends it."""
    return len(json.dumps(card_dict, separators=(",", ":")).encode("ascii"))
