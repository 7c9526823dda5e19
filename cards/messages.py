"""Small cards: help, the "which account?" choice, one-sentence notices, and thread reminders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from microsoft_teams.cards.core import CardElement

from cards import verbs
from cards.common import buttons, card, execute, facts, tb, title_block
from cards.context import CardContext
from cards.text import clock, plain, truncate
from services.actions import catalog
from services.vocabulary import ActionId, UserRef

MAX_CANDIDATES = 10

COMMANDS: tuple[tuple[str, str], ...] = (
    ("/compromised <who>", "Investigate an account and post the incident card."),
    ("@Contain compromised <who>", "The same, from any channel or group chat."),
    ("compromised <who>", "The same, in a 1:1 chat with Contain."),
    ("/compromised status <who>", "Show the open incident for an account, if any."),
    ("/compromised score", "Show Microsoft Secure Score and what to improve."),
    ("/compromised set-channel", "Use this channel for alert threads."),
    ("help", "Show this card."),
)

NEXT_STEPS = (
    "Contain reads sign-ins, risk, inbox rules, forwarding, delegates, MFA methods, roles and app consents at once, "
    "then posts one card with what it found and the recommended actions preselected. "
    "Confirm with a reason; high-impact steps wait for a second responder. "
    "Each action is verified by reading back, the card updates as they land, "
    "and the thread gets a summary with mailbox audit state and Secure Score."
)


def help_card(ctx: CardContext) -> dict[str, Any]:
    body: list[CardElement] = [
        title_block("Contain"),
        tb("Contains a compromised Microsoft 365 account.", subtle=True, spacing="None"),
        facts(COMMANDS),
        tb("What happens next", bold=True, separator=True),
        tb(NEXT_STEPS),
        tb("<who> is a user principal name, an email address or a display name.", subtle=True),
    ]
    return card(ctx, body, fallback="Contain help")


def choice_card(ctx: CardContext, *, query: str, choice_id: str, candidates: Sequence[UserRef]) -> dict[str, Any]:
    """"Several accounts match 'al'": one button per candidate; data carries the user's object id."""
    shown = list(candidates[:MAX_CANDIDATES])
    body: list[CardElement] = [tb(f"Several accounts match '{plain(query, 80)}'", size="Medium", bold=True)]
    body.append(tb("Pick the account to investigate.", subtle=True, spacing="None"))
    picks = [
        execute(
            truncate(f"{plain(u.display_name, 60)} ({plain(u.user_principal_name, 80)})", 140),
            verbs.CHOOSE,
            {"choice": choice_id, "user": u.id},
            inputs=False,
        )
        for u in shown
    ]
    # One set per candidate keeps every button full-width and well under the five-per-set limit.
    body += [buttons([pick]) for pick in picks]
    if len(candidates) > len(shown):
        body.append(tb(f"+{len(candidates) - len(shown)} more; type a longer name or the full address.", subtle=True))
    return card(ctx, body, fallback="Contain: which account?")


def notice_card(
    ctx: CardContext, *, text: str, tone: Literal["default", "warning", "attention"] = "default"
) -> dict[str, Any]:
    """One sentence (an error, a refusal, a confirmation) with the correlation id to quote."""
    color = {"default": "Default", "warning": "Warning", "attention": "Attention"}[tone]
    body: list[CardElement] = [tb(plain(text, 400), color=color)]  # type: ignore[arg-type]
    if ctx.correlation_id:
        body.append(tb(f"ref {plain(ctx.correlation_id, 64)}", subtle=True, spacing="None"))
    return card(ctx, body, fallback=truncate(text, 400))


def approval_reminder_text(
    *, target: UserRef, actions: Sequence[ActionId], expires_at: datetime, now: datetime
) -> str:
    """The halfway reminder posted in the thread: plain text, safe to send as a message."""
    minutes = max(0, round((expires_at - now).total_seconds() / 60))
    names = ", ".join(catalog.title(a) for a in actions) or "the pending actions"
    return (
        f"Approval for {names} on {plain(target.display_name, 80)} expires in {minutes} minutes "
        f"({clock(expires_at)}). A responder other than the requester can approve it on the card above."
    )
