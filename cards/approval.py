"""The steps between choosing actions and running them: confirm, wait for a second responder,
and the two ways a wait ends without running anything (expired, rejected)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from microsoft_teams.cards.core import CardElement, Container, ExecuteAction, TextInput

from cards import verbs
from cards.common import box, buttons, card, col, execute, facts, row, target_line, tb, title_block
from cards.context import CardContext
from cards.incident import cautions_box
from cards.text import clock, plain, when
from services.actions import catalog
from services.vocabulary import ActionId, Actor, Impact, UserRef

SELF_APPROVAL_NOTE = "The requester cannot approve their own request; a different responder must."


def action_list(
    actions: Sequence[ActionId], *, target_is_admin: bool = False, describe: bool = True
) -> list[CardElement]:
    """One row per action: impact marker, title and (optionally) what it will do."""
    out: list[CardElement] = []
    for action in actions:
        high = catalog.impact(action, target_is_admin=target_is_admin) is Impact.HIGH
        marker = tb("HIGH" if high else "STANDARD", bold=True, color="Attention" if high else "Accent")
        detail: list[CardElement] = [tb(catalog.title(action), bold=True)]
        if describe:
            detail.append(tb(catalog.description(action), subtle=True, spacing="None"))
        out.append(row(col([marker], width="90px"), col(detail)))
    return out


def confirm_card(
    ctx: CardContext,
    *,
    incident_id: str,
    nonce: str,
    target: UserRef,
    actions: Sequence[ActionId],
    target_is_admin: bool = False,
    cautions: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Lists the chosen actions with their impact, asks for a reason, then Run or Back. `cautions` (by action
    id) say what the account's kind changes about an action (a synced account), before anyone clicks Run."""
    body: list[CardElement] = [title_block("Confirm containment"), target_line(target)]
    back = execute("Back", verbs.REFRESH, {"incident": incident_id}, inputs=False)
    if not actions:
        body.append(tb("No actions are selected. Go back and pick at least one.", color="Warning"))
        return card(ctx, body, [back], fallback="Contain: confirm containment")
    body += action_list(actions, target_is_admin=target_is_admin)
    body += cautions_box(cautions or {}, actions)
    high = [a for a in actions if catalog.impact(a, target_is_admin=target_is_admin) is Impact.HIGH]
    if high:
        body.append(
            tb(
                f"{len(high)} high-impact action(s) will wait for a second responder's approval; "
                "the others run as soon as you press Run.",
                color="Warning",
            )
        )
    body.append(
        TextInput(
            id=verbs.REASON_INPUT,
            label="Reason (kept in the audit log)",
            is_required=True,
            error_message="Give a reason; it is kept in the audit log.",
            max_length=verbs.REASON_MAX_LENGTH,
            is_multiline=True,
            placeholder="e.g. Identity Protection alert, user confirmed the sign-in was not them",
        )
    )
    run = execute("Run", verbs.RUN, {"incident": incident_id, "nonce": nonce}, style="positive")
    return card(ctx, body, [run, back], fallback="Contain: confirm containment")


@dataclass(frozen=True, slots=True)
class AwaitingApproval:
    """A batch of high-impact actions waiting for a second responder: what the approval card shows, and
    what the running card adds while other actions of the incident are still landing."""

    batch_id: str
    requested_by: Actor
    requested_at: datetime | None
    reason: str
    actions: tuple[ActionId, ...]
    expires_at: datetime
    target_is_admin: bool = False


def decision_buttons(batch_id: str) -> list[ExecuteAction]:
    """Approve / Reject, carrying the batch id only."""
    return [
        execute("Approve", verbs.APPROVE, {"batch": batch_id}, style="positive", inputs=False),
        execute("Reject", verbs.REJECT, {"batch": batch_id}, style="destructive", inputs=False),
    ]


def _expiry(ctx: CardContext, expires_at: datetime) -> str:
    minutes = max(0, int((expires_at - ctx.now).total_seconds() // 60))
    return f"expires {clock(expires_at)} (in {minutes} min)"


def awaiting_section(ctx: CardContext, waiting: AwaitingApproval, *, reason_limit: int = 500) -> Container:
    """The approval part on its own, for a card that shows something else first (the running card): a
    second responder who opens the incident while the standard actions run can decide at once."""
    items: list[CardElement] = [
        tb("Waiting for a second responder", bold=True, color="Warning"),
        facts(
            [
                ("Requested by", plain(waiting.requested_by.name, 120)),
                ("Reason", plain(waiting.reason, reason_limit)),
                ("Expires", _expiry(ctx, waiting.expires_at)),
            ]
        ),
        *action_list(waiting.actions, target_is_admin=waiting.target_is_admin, describe=False),
        tb(SELF_APPROVAL_NOTE, subtle=True),
        buttons(decision_buttons(waiting.batch_id)),
    ]
    return box(items, style="warning", separator=True, id="contain-awaiting")


def awaiting_approval_card(
    ctx: CardContext,
    *,
    batch_id: str,
    incident_id: str,
    target: UserRef,
    requested_by: Actor,
    requested_at: datetime | None,
    reason: str,
    actions: Sequence[ActionId],
    expires_at: datetime,
    target_is_admin: bool = False,
) -> dict[str, Any]:
    """High-impact actions waiting for a second, different responder."""
    body: list[CardElement] = [
        title_block("Waiting for a second responder", color="Warning"),
        target_line(target),
        facts(
            [
                ("Requested by", plain(requested_by.name, 120)),
                ("Requested", when(requested_at, ctx.now)),
                ("Reason", plain(reason, 500)),
                ("Expires", _expiry(ctx, expires_at)),
            ]
        ),
        tb("Actions waiting", bold=True, separator=True),
        *action_list(actions, target_is_admin=target_is_admin),
        tb(SELF_APPROVAL_NOTE, subtle=True),
    ]
    return card(ctx, body, decision_buttons(batch_id), fallback="Contain: approval needed",
                refresh_incident=incident_id)


def expired_card(
    ctx: CardContext,
    *,
    incident_id: str,
    target: UserRef,
    expired_at: datetime,
    actions: Sequence[ActionId],
) -> dict[str, Any]:
    """The approval window closed; nothing in the request ran."""
    body: list[CardElement] = [
        title_block("Request expired"),
        target_line(target),
        tb(f"The request expired at {clock(expired_at)}; nothing was executed.", bold=True),
        *action_list(actions, describe=False),
    ]
    again = execute("Start again", verbs.REFRESH, {"incident": incident_id}, inputs=False)
    return card(ctx, body, [again], fallback="Contain: request expired")


def rejected_card(
    ctx: CardContext,
    *,
    incident_id: str,
    target: UserRef,
    rejected_by: Actor,
    rejected_at: datetime | None,
    actions: Sequence[ActionId],
) -> dict[str, Any]:
    """A second responder said no; nothing in the request ran."""
    body: list[CardElement] = [
        title_block("Request rejected"),
        target_line(target),
        tb(
            f"{plain(rejected_by.name, 120)} rejected the request at {clock(rejected_at)}; nothing was executed.",
            bold=True,
        ),
        *action_list(actions, describe=False),
    ]
    again = execute("Start again", verbs.REFRESH, {"incident": incident_id}, inputs=False)
    return card(ctx, body, [again], fallback="Contain: request rejected")


__all__ = [
    "AwaitingApproval",
    "action_list",
    "awaiting_approval_card",
    "awaiting_section",
    "confirm_card",
    "decision_buttons",
    "expired_card",
    "rejected_card",
]
