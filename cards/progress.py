"""Cards for a run in progress and a finished run, updated in place as each action lands."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from microsoft_teams.cards.core import (
    AdaptiveCard,
    CardElement,
    Choice,
    ChoiceSetInput,
    ShowCardAction,
    TextColor,
    TextInput,
)

from cards import verbs
from cards.approval import AwaitingApproval, awaiting_section
from cards.common import (
    SIZE_BUDGET,
    VERSION,
    buttons,
    card,
    col,
    execute,
    row,
    size_of,
    target_line,
    tb,
    title_block,
)
from cards.context import CardContext
from cards.fit import within_budget
from cards.text import plain, when
from cards.views import ActionLine, ContainmentView, LineState
from services.actions import catalog
from services.vocabulary import ActionId, Actor, Impact, UserRef

STATE_TEXT: dict[LineState, tuple[str, TextColor]] = {
    LineState.QUEUED: ("queued", "Default"),
    LineState.AWAITING_APPROVAL: ("awaiting approval", "Warning"),
    LineState.RUNNING: ("running…", "Accent"),
    LineState.SUCCEEDED: ("✓ succeeded", "Good"),
    LineState.FAILED: ("✗ failed", "Attention"),
    LineState.SKIPPED: ("skipped", "Default"),
    LineState.PARTIAL: ("◐ partly done", "Warning"),
    LineState.REFUSED: ("refused", "Warning"),
    LineState.EXPIRED: ("expired, not run", "Default"),
    LineState.REJECTED: ("rejected, not run", "Warning"),
    LineState.CANCELLED: ("cancelled", "Default"),
}

# Service sentences are short; a hostile or runaway one is cut harder when the card would not fit.
DETAIL_LIMITS = (300, 100, 40)

# Outcomes first: the tally reads "3 succeeded (2 verified), 1 failed, 1 running".
TALLY_ORDER = (
    LineState.SUCCEEDED,
    LineState.PARTIAL,
    LineState.FAILED,
    LineState.REFUSED,
    LineState.SKIPPED,
    LineState.REJECTED,
    LineState.EXPIRED,
    LineState.CANCELLED,
    LineState.RUNNING,
    LineState.AWAITING_APPROVAL,
    LineState.QUEUED,
)


def line_rows(
    lines: Sequence[ActionLine], now: datetime, *, actors: bool = True, detail_limit: int = 300
) -> list[CardElement]:
    """One row per action: title and what happened, then the service's sentence and who/when."""
    out: list[CardElement] = []
    for line in lines:
        word, color = STATE_TEXT[line.state]
        if line.state is LineState.SUCCEEDED:
            word += " · verified" if line.verified else f" · {catalog.NOT_YET_VISIBLE.lower()}"
            color = "Good" if line.verified else "Warning"
        title = catalog.title(line.action)
        if line.impact is Impact.HIGH:
            title += f" ({catalog.impact_label(Impact.HIGH)})"
        detail: list[CardElement] = [tb(title, bold=True)]
        if line.detail and line.state is not LineState.SUCCEEDED:
            detail.append(tb(plain(line.detail, detail_limit), spacing="None"))
        who = _who(line, now) if actors else ""
        if who:
            detail.append(tb(who, subtle=True, spacing="None"))
        out.append(row(col(detail), col([tb(word, bold=True, color=color)], width="auto")))
    return out


def _who(line: ActionLine, now: datetime) -> str:
    parts = []
    if line.requested_by:
        parts.append(f"requested by {plain(line.requested_by.name, 80)}")
    if line.approved_by:
        parts.append(f"approved by {plain(line.approved_by.name, 80)}")
    if line.at:
        parts.append(when(line.at, now))
    return " · ".join(parts)


def tally(lines: Sequence[ActionLine]) -> str:
    """"4 succeeded (4 verified), 1 failed"."""
    counts = Counter(line.state for line in lines)
    verified = sum(1 for line in lines if line.state is LineState.SUCCEEDED and line.verified)
    parts = []
    for state in TALLY_ORDER:
        if counts[state]:
            text = f"{counts[state]} {state.value.replace('_', ' ')}"
            if state is LineState.SUCCEEDED:
                text += f" ({verified} verified)"
            parts.append(text)
    return ", ".join(parts) or "nothing ran"


def running_card(
    ctx: CardContext,
    *,
    incident_id: str,
    target: UserRef,
    lines: Sequence[ActionLine],
    requested_by: Actor | None = None,
    started_at: datetime | None = None,
    awaiting: AwaitingApproval | None = None,
) -> dict[str, Any]:
    """Per-action progress while the run is under way; with `awaiting`, also the high-impact actions
    waiting for a second responder, with Approve / Reject, so nobody has to wait for the run to end."""
    for detail_limit in DETAIL_LIMITS:
        body: list[CardElement] = [title_block("Containing…"), target_line(target)]
        if requested_by:
            body.append(tb(f"Started by {plain(requested_by.name, 120)} · {when(started_at, ctx.now)}", subtle=True))
        body += line_rows(lines, ctx.now, actors=False, detail_limit=detail_limit)
        body.append(tb(tally(lines), subtle=True, separator=True))
        if awaiting is not None:
            body.append(awaiting_section(ctx, awaiting, reason_limit=detail_limit))
        refresh = execute("Refresh", verbs.REFRESH, {"incident": incident_id}, inputs=False)
        out = card(ctx, body, [refresh], fallback="Contain: containment running", refresh_incident=incident_id)
        if size_of(out) <= SIZE_BUDGET:
            return out
    return within_budget(out)


def done_card(
    ctx: CardContext,
    *,
    incident_id: str,
    batch_id: str,
    target: UserRef,
    lines: Sequence[ActionLine],
    finished_at: datetime | None = None,
    containment: ContainmentView | None = None,
) -> dict[str, Any]:
    """Final outcomes with requesters, approvers and verification; undo where the service allows; with
    `containment`, whether the incident is contained and, while findings are open, a form to accept one."""
    for detail_limit in DETAIL_LIMITS:
        out = _done(ctx, incident_id, batch_id, target, lines, finished_at, detail_limit, containment)
        if size_of(out) <= SIZE_BUDGET:
            return out
    return within_budget(out)


def _done(
    ctx: CardContext,
    incident_id: str,
    batch_id: str,
    target: UserRef,
    lines: Sequence[ActionLine],
    finished_at: datetime | None,
    detail_limit: int,
    containment: ContainmentView | None = None,
) -> dict[str, Any]:
    failed = any(line.state in (LineState.FAILED, LineState.PARTIAL) for line in lines)
    body: list[CardElement] = [
        title_block("Containment finished" if not failed else "Containment finished with failures"),
        target_line(target),
        tb(f"{tally(lines)} · {when(finished_at, ctx.now)}", subtle=True),
        *line_rows(lines, ctx.now, actors=detail_limit == DETAIL_LIMITS[0], detail_limit=detail_limit),
    ]
    undo = [
        execute(f"Undo: {catalog.title(line.action)}", verbs.UNDO, {"request": line.request_id}, inputs=False)
        for line in lines
        if line.state is LineState.SUCCEEDED and catalog.undoable(line.action) and line.request_id
    ]
    # Teams shows at most five buttons per set; undo is rare enough that rows of five suffice.
    for start in range(0, len(undo), 5):
        body.append(buttons(undo[start : start + 5]))
    if any(line.action is ActionId.UNBLOCK_SENDER and line.state is LineState.REFUSED for line in lines):
        body.append(
            tb(catalog.prerequisites_note(ActionId.UNBLOCK_SENDER), color="Warning")
        )
        body.append(
            buttons(
                [
                    execute(
                        "Override: lift block anyway (audited, needs approval)",
                        verbs.OVERRIDE_UNBLOCK,
                        {"batch": batch_id},
                        inputs=False,
                    )
                ]
            )
        )
    actions: list[Any] = [execute("Refresh", verbs.REFRESH, {"incident": incident_id}, inputs=False)]
    if containment is not None:
        body += containment_section(containment, text_limit=detail_limit)
        if containment.open:
            actions.append(accept_finding_action(incident_id, containment, text_limit=detail_limit))
    actions.append(close_incident_action(incident_id))
    return card(ctx, body, actions, fallback="Contain: containment finished")


MAX_OPEN_SHOWN = 5
MAX_ACCEPT_CHOICES = 10  # accepting is one finding at a time; the card redraws with the rest


def containment_section(view: ContainmentView, *, text_limit: int = 300) -> list[CardElement]:
    """"Contained: every finding addressed." or "Partly contained: N findings open." and the open ones."""
    out: list[CardElement] = [
        tb(view.sentence, bold=True, color="Good" if view.contained else "Warning", separator=True)
    ]
    if view.open:
        shown = [plain(f.title, min(text_limit, 120)) for f in view.open[:MAX_OPEN_SHOWN]]
        more = f" (+{len(view.open) - MAX_OPEN_SHOWN} more)" if len(view.open) > MAX_OPEN_SHOWN else ""
        out.append(tb("Open: " + "; ".join(shown) + more, spacing="None"))
    return out


def accept_finding_action(incident_id: str, view: ContainmentView, *, text_limit: int = 300) -> ShowCardAction:
    """"Accept a finding" opens a form: which open finding, a required reason, then contain.accept."""
    form = AdaptiveCard(
        version=VERSION,
        body=[
            ChoiceSetInput(
                id=verbs.FINDING_INPUT,
                label="Which finding is accepted without action?",
                is_required=True,
                error_message="Choose the finding to accept.",
                choices=[Choice(title=plain(f.title, min(text_limit, 80)), value=f.key)
                         for f in view.open[:MAX_ACCEPT_CHOICES]],
                value=view.open[0].key if len(view.open) == 1 else None,
            ),
            TextInput(
                id=verbs.ACCEPT_REASON_INPUT,
                label="Why is it acceptable?",
                is_required=True,
                error_message="Give a reason for accepting the finding; it is kept in the audit log.",
                max_length=verbs.REASON_MAX_LENGTH,
            ),
        ],
        actions=[execute("Accept finding", verbs.ACCEPT, {"incident": incident_id})],
    )
    return ShowCardAction(title="Accept a finding", card=form)


def close_incident_action(incident_id: str) -> ShowCardAction:
    """"Close incident" opens a small form: a required reason, then contain.close."""
    form = AdaptiveCard(
        version=VERSION,
        body=[
            TextInput(
                id=verbs.REASON_INPUT,
                label="Why is the incident closed?",
                is_required=True,
                error_message="Give a reason for closing; it is kept in the audit log.",
                max_length=verbs.REASON_MAX_LENGTH,
            )
        ],
        actions=[execute("Close incident", verbs.CLOSE, {"incident": incident_id})],
    )
    return ShowCardAction(title="Close incident", card=form)
