"""The incident card: who, how risky, what was found, what to do — and the pointer to an open one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from microsoft_teams.cards.core import CardElement, TextColor, ToggleInput, ToggleVisibilityAction

from cards import verbs
from cards.common import (
    SIZE_BUDGET,
    box,
    buttons,
    card,
    col,
    execute,
    facts,
    row,
    size_of,
    target_line,
    tb,
    title_block,
)
from cards.context import CardContext
from cards.fit import within_budget
from cards.text import plain, when
from cards.views import AlertView
from services.actions import catalog
from services.vocabulary import ActionId, Finding, Impact, Investigation, Severity, UserRef

MAX_EVIDENCE = 3
MAX_ALERTS = 10
ALERT_TEXT, SHORT_ALERT_TEXT = 200, 60  # characters of an alert's title on the card, normally and when squeezed
MAX_GAPS = 8
MORE_ACTIONS_ID = "more-actions"

SEVERITY_COLOR: dict[Severity, TextColor] = {
    Severity.HIGH: "Attention",
    Severity.MEDIUM: "Warning",
    Severity.LOW: "Default",
    Severity.INFO: "Default",
}
RISK_COLOR: dict[str, TextColor] = {"high": "Attention", "medium": "Warning", "low": "Good", "none": "Good"}


def incident_card(
    ctx: CardContext,
    *,
    incident_id: str,
    investigation: Investigation,
    alerts: Sequence[AlertView] = (),
    available: Sequence[ActionId] | None = None,
    closed: bool = False,
) -> dict[str, Any]:
    """Account and risk header, findings by severity, recommended actions preselected as toggles.

    ``available`` are the other actions a responder may pick (collapsed); by default every action
    not recommended that makes sense for the account. When the card would exceed Teams' size
    limit, evidence is shortened and then the least severe findings are collapsed into "+N more".
    """
    findings = sorted(investigation.findings, key=lambda f: -f.severity.rank)
    others = _other_actions(investigation, available)

    def build(shown: int, evidence: int, alert_text: int = ALERT_TEXT) -> dict[str, Any]:
        return _build(ctx, incident_id, investigation, findings, shown, evidence, alerts, others, closed,
                      alert_text)

    n = len(findings)
    for evidence in (MAX_EVIDENCE, 1):
        out = build(n, evidence)
        if size_of(out) <= SIZE_BUDGET:
            return out
    # Largest number of findings that still fits, by bisection (each build is a full render); alert titles
    # give up length first, so the findings keep the room.
    lo, hi = 0, n - 1
    best = build(0, 0, SHORT_ALERT_TEXT)
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = build(mid, 1, SHORT_ALERT_TEXT)
        if size_of(candidate) <= SIZE_BUDGET:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return within_budget(best)


def _build(
    ctx: CardContext,
    incident_id: str,
    inv: Investigation,
    findings: list[Finding],
    shown: int,
    evidence: int,
    alerts: Sequence[AlertView],
    others: list[ActionId],
    closed: bool,
    alert_text: int = ALERT_TEXT,
) -> dict[str, Any]:
    title, color = headline(findings)
    body: list[CardElement] = [title_block(title, color=color), *_header(ctx, inv)]
    body += _findings(findings, shown, evidence)
    body += _notes(inv.notes)
    body += _gaps(inv.gaps)
    body += _alerts(ctx, alerts, alert_text)
    if closed:
        body.append(tb("This incident is closed; it takes no further actions.", bold=True, separator=True))
        return card(ctx, body, fallback="Contain incident (closed)")
    body += _action_toggles(inv, others)
    actions = [
        execute("Contain selected", verbs.CONFIRM, {"incident": incident_id}, style="positive"),
        execute("Refresh", verbs.REFRESH, {"incident": incident_id}),
    ]
    return card(ctx, body, actions, fallback="Contain incident card", refresh_incident=incident_id)


COMPROMISE_TITLE = "Possible account compromise"
ATTENTION_TITLE = "Findings need attention"
CLEAN_TITLE = "No signs of compromise"


def headline(findings: Sequence[Finding]) -> tuple[str, TextColor]:
    """The card's title and colour follow the worst finding: high → possible compromise; medium → findings
    need attention; nothing above low → no signs of compromise (an admin target's note stays in the header)."""
    worst = max((f.severity.rank for f in findings), default=Severity.INFO.rank)
    if worst >= Severity.HIGH.rank:
        return COMPROMISE_TITLE, "Attention"
    if worst >= Severity.MEDIUM.rank:
        return ATTENTION_TITLE, "Warning"
    return CLEAN_TITLE, "Good"


def _header(ctx: CardContext, inv: Investigation) -> list[CardElement]:
    user = inv.user
    risk = (inv.risk_level or "none").lower()
    risk_text = f"Risk: {plain(risk, 20)}" + (f" ({plain(inv.risk_state, 40)})" if inv.risk_state else "")
    badges: list[CardElement] = [tb(risk_text, bold=True, color=RISK_COLOR.get(risk, "Default"))]
    if inv.admin_unknown:
        badges.append(tb("ADMIN STATUS UNKNOWN — every action needs a second responder", bold=True,
                         color="Attention", spacing="None"))
    elif inv.is_admin:
        badges.append(tb("ADMIN — every action needs a second responder", bold=True, color="Attention", spacing="None"))
    if not user.account_enabled:
        badges.append(tb("Sign-in is blocked", color="Warning", spacing="None"))
    return [
        tb(plain(user.display_name), size="Medium", bold=True, spacing="Small"),
        target_line(user),
        row(
            col(badges),
            col([tb(f"Investigated {when(inv.investigated_at, ctx.now)}", subtle=True)], width="auto"),
        ),
    ]


def _findings(findings: list[Finding], shown: int, evidence: int) -> list[CardElement]:
    if not findings:
        return [tb("Nothing suspicious found.", color="Good", separator=True)]
    out: list[CardElement] = [tb(f"Findings ({len(findings)})", size="Medium", bold=True, separator=True)]
    for finding in findings[:shown]:
        detail: list[CardElement] = [tb(plain(finding.title), bold=True)]
        detail += [tb(plain(line), subtle=True, spacing="None") for line in finding.evidence[:evidence]]
        if len(finding.evidence) > evidence:
            detail.append(tb(f"+{len(finding.evidence) - evidence} more", subtle=True, spacing="None"))
        marker = tb(finding.severity.value.upper(), bold=True, color=SEVERITY_COLOR[finding.severity])
        out.append(row(col([marker], width="70px"), col(detail)))
    if shown < len(findings):
        hidden = len(findings) - shown
        out.append(tb(f"+{hidden} more lower-severity findings not shown (card size limit).", subtle=True))
    return out


def _notes(notes: Sequence[str]) -> list[CardElement]:
    """What the reads covered (which sign-ins, no mailbox): subtle lines under the findings."""
    return [tb(plain(n), subtle=True, spacing="None" if i else "Small") for i, n in enumerate(notes[:MAX_GAPS])]


def cautions_box(cautions: dict[str, str], actions: Sequence[ActionId]) -> list[CardElement]:
    """Before Run: what the account's kind changes about the listed actions (a synced account's block)."""
    lines = list(dict.fromkeys(cautions[a.value] for a in actions if a.value in cautions))
    if not lines:
        return []
    items: list[CardElement] = [tb("Before you run", bold=True, color="Warning")]
    items += [tb(plain(line, 400), spacing="None") for line in lines]
    return [box(items, style="warning", separator=True)]


def _gaps(gaps: Sequence[str]) -> list[CardElement]:
    if not gaps:
        return []
    lines: list[CardElement] = [tb("Could not check", bold=True, color="Warning")]
    lines += [tb(plain(g), spacing="None") for g in gaps[:MAX_GAPS]]
    if len(gaps) > MAX_GAPS:
        lines.append(tb(f"+{len(gaps) - MAX_GAPS} more", subtle=True, spacing="None"))
    return [box(lines, style="warning", separator=True)]


def _alerts(ctx: CardContext, alerts: Sequence[AlertView], text: int = ALERT_TEXT) -> list[CardElement]:
    if not alerts:
        return []
    recent = sorted(alerts, key=lambda a: a.at.timestamp() if a.at else 0.0, reverse=True)
    out: list[CardElement] = [tb(f"Alerts ({len(alerts)})", size="Medium", bold=True, separator=True)]
    out.append(
        facts(
            (when(a.at, ctx.now), f"{plain(a.source, 40)} · {plain(a.severity, 20)} · {plain(a.title, text)}")
            for a in recent[:MAX_ALERTS]
        )
    )
    if len(alerts) > MAX_ALERTS:
        out.append(tb(f"+{len(alerts) - MAX_ALERTS} earlier alerts", subtle=True, spacing="None"))
    return out


def _toggle(action: ActionId, *, on: bool, admin: bool) -> ToggleInput:
    label = catalog.title(action)
    if catalog.impact(action, target_is_admin=admin) is Impact.HIGH:
        label += f" ({catalog.SECOND_RESPONDER_NOTE})"
    return ToggleInput(
        id=f"{verbs.TOGGLE_PREFIX}{action.value}",
        title=label,
        value="true" if on else "false",
        value_on="true",
        value_off="false",
        wrap=True,
    )


def _action_toggles(inv: Investigation, others: list[ActionId]) -> list[CardElement]:
    out: list[CardElement] = [tb("Recommended actions", size="Medium", bold=True, separator=True)]
    if inv.recommended_actions:
        out += [_toggle(a, on=True, admin=inv.is_admin) for a in inv.recommended_actions]
    else:
        out.append(tb("No action recommended.", subtle=True))
    out += cautions_box(inv.cautions, [*inv.recommended_actions, *others])
    if others:
        out.append(
            buttons([ToggleVisibilityAction(title=f"Other actions ({len(others)})", target_elements=[MORE_ACTIONS_ID])])
        )
        out.append(
            box([_toggle(a, on=False, admin=inv.is_admin) for a in others], id=MORE_ACTIONS_ID, is_visible=False)
        )
    return out


def _other_actions(inv: Investigation, available: Sequence[ActionId] | None) -> list[ActionId]:
    recommended = set(inv.recommended_actions)
    if available is None:
        available = [a for a in ActionId if not (a is ActionId.UNBLOCK_SIGNIN and inv.user.account_enabled)]
    return [a for a in dict.fromkeys(available) if a not in recommended]


def existing_incident_card(
    ctx: CardContext, *, incident_id: str, target: UserRef, opened_at: Any = None
) -> dict[str, Any]:
    """"Alice already has an open incident — see the thread", with the option to start another."""
    body: list[CardElement] = [
        tb(f"{plain(target.display_name)} already has an open incident — see its thread.", bold=True),
        target_line(target),
    ]
    if opened_at is not None:
        body.append(tb(f"Opened {when(opened_at, ctx.now)}", subtle=True))
    actions = [
        execute("Show current state", verbs.REFRESH, {"incident": incident_id}),
        execute("Open a new incident", verbs.NEW_INCIDENT, {"incident": incident_id}),
    ]
    return card(ctx, body, actions, fallback="Contain: an incident is already open")
