"""The closing summary posted in the thread, and the Secure Score card of `/compromised score`.

The score visual is a bar drawn with a ColumnSet of weighted, coloured columns: plain Adaptive
Cards 1.5 that Teams renders everywhere (no image hosting, no data-URI support questions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from microsoft_teams.cards.core import (
    CardElement,
    ColumnDefinition,
    ColumnSet,
    Table,
    TableCell,
    TableRow,
)

from cards.common import SIZE_BUDGET, card, col, facts, row, size_of, target_line, tb, title_block
from cards.context import CardContext
from cards.fit import within_budget
from cards.text import plain, when
from cards.views import AuditEventsView, LineState, MailboxAuditView, SecureScoreView, SummaryData
from services.actions import catalog
from services.vocabulary import UserRef

MAX_COUNTS = 8
MAX_NOTABLE = 8
MAX_CONTROLS = 8
MAX_PEERS = 4


def summary_card(ctx: CardContext, *, target: UserRef, data: SummaryData) -> dict[str, Any]:
    """Actions and outcomes with actors, mailbox audit state, recent audit events, Secure Score."""
    # Each level trims more: notable events, then the length of sentences and names in the table.
    for limit, text_limit in ((MAX_NOTABLE, 160), (3, 60), (0, 24)):
        body: list[CardElement] = [title_block("Containment summary"), target_line(target)]
        if data.containment is not None:  # the sentence only: the done card lists the open findings
            c = data.containment
            body.append(tb(c.sentence, bold=True, color="Good" if c.contained else "Warning", separator=True))
        body += _actions(ctx, data, text_limit)
        if data.mailbox_audit is not None:
            body += _mailbox_audit(data.mailbox_audit)
        if data.audit_events is not None:
            body += _audit_events(ctx, data.audit_events, limit, text_limit)
        if data.secure_score is not None:
            body += score_section(data.secure_score, text_limit=min(120, text_limit))
        if data.gaps:
            body.append(tb("Could not check", bold=True, color="Warning", separator=True))
            body += [tb(plain(g, text_limit + 40), spacing="None") for g in data.gaps[: max(limit, 3)]]
        out = card(ctx, body, fallback="Contain: containment summary")
        if size_of(out) <= SIZE_BUDGET:
            return out
    return within_budget(out)


def score_card(ctx: CardContext, *, score: SecureScoreView) -> dict[str, Any]:
    return card(ctx, [title_block("Microsoft Secure Score"), *score_section(score)], fallback="Secure Score")


def _actions(ctx: CardContext, data: SummaryData, text_limit: int) -> list[CardElement]:
    out: list[CardElement] = [tb("Actions", size="Medium", bold=True, separator=True)]
    if not data.lines:
        return [*out, tb("No action was taken.", subtle=True)]
    header = ["Action", "Outcome", "Requested by", "Approved by", "When"]
    rows = [header]
    for line in data.lines:
        outcome = "partly done" if line.state is LineState.PARTIAL else line.state.value.replace("_", " ")
        if line.state is LineState.SUCCEEDED:
            outcome += ", verified" if line.verified else f", {catalog.NOT_YET_VISIBLE.lower()}"
        elif line.detail:
            outcome += f": {plain(line.detail, text_limit)}"
        rows.append(
            [
                catalog.title(line.action),
                outcome,
                plain(line.requested_by.name, min(60, text_limit)) if line.requested_by else "—",
                plain(line.approved_by.name, min(60, text_limit)) if line.approved_by else "—",
                when(line.at, ctx.now),
            ]
        )
    return [*out, _table(rows, widths=[3, 3, 2, 2, 2])]


def _table(rows: Sequence[Sequence[str]], *, widths: Sequence[int]) -> Table:
    return Table(
        columns=[ColumnDefinition(width=w) for w in widths],
        rows=[TableRow(cells=[TableCell(items=[tb(text or "—")]) for text in r]) for r in rows],
    )


def _onoff(value: bool | None, on: str = "on", off: str = "off") -> str:
    return "unknown (read failed)" if value is None else (on if value else off)


def _mailbox_audit(view: MailboxAuditView) -> list[CardElement]:
    out: list[CardElement] = [
        tb("Mailbox audit", size="Medium", bold=True, separator=True),
        facts(
            [
                ("Organisation", _onoff(view.org_enabled)),
                ("Mailbox", _onoff(view.mailbox_enabled)),
                ("Audit bypass", _onoff(view.bypass, on="BYPASSED — actions are not logged", off="none")),
            ]
        ),
    ]
    if view.org_enabled is False or view.mailbox_enabled is False or view.bypass:
        out.append(tb("Some mailbox activity is not being recorded.", color="Warning", spacing="None"))
    return out


def _audit_events(ctx: CardContext, view: AuditEventsView, notable_limit: int, text_limit: int) -> list[CardElement]:
    out: list[CardElement] = [tb(f"Audit events, last {view.days} days", size="Medium", bold=True, separator=True)]
    if view.note:
        out.append(tb(plain(view.note, text_limit * 2), subtle=True))
    counts = sorted(view.counts, key=lambda c: -c[1])
    if counts:
        out.append(facts((plain(op, min(60, text_limit)), str(n)) for op, n in counts[:MAX_COUNTS]))
        if len(counts) > MAX_COUNTS:
            rest = sum(n for _, n in counts[MAX_COUNTS:])
            out.append(tb(f"+{rest} events of {len(counts) - MAX_COUNTS} other kinds", subtle=True))
    elif not view.note:
        out.append(tb("No audit events recorded for this account.", subtle=True))
    if view.notable and notable_limit:
        out.append(tb("Notable", bold=True))
        out.append(
            facts(
                (
                    when(e.at, ctx.now),
                    plain(e.operation, min(60, text_limit)) + (f" · {plain(e.detail, text_limit)}" if e.detail else ""),
                )
                for e in view.notable[:notable_limit]
            )
        )
    hidden = len(view.notable) - min(len(view.notable), notable_limit)
    if hidden:
        out.append(tb(f"+{hidden} more notable events", subtle=True, spacing="None"))
    return out


def score_section(score: SecureScoreView, *, text_limit: int = 120) -> list[CardElement]:
    """Current / max / %, the bar, 7- and 30-day change, peers, and controls with points to gain."""
    out: list[CardElement] = [
        tb("Secure Score", size="Medium", bold=True, separator=True),
        tb(f"{score.current:.1f} / {score.max:.1f} ({score.percent:.0f} %)", size="ExtraLarge", bold=True),
        _bar_row("This tenant", score.percent, "good"),
    ]
    for basis, average in score.peers[:MAX_PEERS]:
        pct = 0.0 if score.max <= 0 else max(0.0, min(100.0, 100.0 * average / score.max))
        out.append(_bar_row(plain(basis, min(40, text_limit)), pct, "accent"))
    out.append(tb(f"Change: {_delta(score.change_7d)} over 7 days · {_delta(score.change_30d)} over 30 days"))
    if score.controls:
        controls = sorted(score.controls, key=lambda c: -c.points_available)[:MAX_CONTROLS]
        out.append(tb("Improvement actions for account compromise", bold=True))
        rows = [["Improvement action", "Points available", "Status"]]
        rows += [
            [plain(c.title, text_limit), f"{c.points_available:.1f}", plain(c.status, min(40, text_limit))]
            for c in controls
        ]
        out.append(_table(rows, widths=[4, 2, 2]))
    return out


def _delta(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}"


def _bar_row(label: str, percent: float, style: str) -> ColumnSet:
    """Label | bar | value. The bar is its own ColumnSet so weighted and stretch never mix (the
    official renderer flags that mix)."""
    filled = round(percent)
    parts = []
    if filled > 0:
        parts.append(col([], width=filled, style=style, min_height="14px"))
    if filled < 100:
        parts.append(col([], width=100 - filled, style="emphasis", min_height="14px"))
    bar = ColumnSet(columns=parts, spacing="None")
    return row(
        col([tb(label, subtle=True)], width="110px"),
        col([bar], width="stretch", vertical_content_alignment="Center"),
        col([tb(f"{percent:.0f} %", bold=True)], width="50px"),
    )


__all__ = ["score_card", "score_section", "summary_card"]
