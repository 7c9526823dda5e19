"""The action catalog: what each containment action is called, what it does, how much it weighs, whether
and how it can be undone, and what must have happened before it may run.

This is the only place these are written. Cards, dialogs, the command line, audit rows and
docs/actions.md read them from here (tests/services/actions/test_catalog.py fails if a title or an impact label
appears in any other source file). The action objects in services.actions implement the behaviour:
snapshot, plan, verify and, for the undoable ones, undo_plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from services.vocabulary import ActionId, Impact

_A = ActionId


class UndoBy(StrEnum):
    """How an action is undone. NONE: it cannot be. SNAPSHOT: its own undo restores what the snapshot
    taken before it ran recorded. COUNTERPART: another action reverses it (it goes through approval as a
    request of its own)."""

    NONE = "none"
    SNAPSHOT = "snapshot"
    COUNTERPART = "counterpart"


@dataclass(frozen=True, slots=True)
class Prerequisite:
    """An action that must have succeeded in the incident first; `unmet` is the clause the refusal
    sentence uses when it has not ("the password has not been reset")."""

    action: ActionId
    unmet: str


@dataclass(frozen=True, slots=True)
class ActionSpec:
    id: ActionId
    title: str
    description: str  # one line: what it does, for the confirm card and the terminal prompt
    high_impact: bool = False  # needs a second responder whatever the target
    undo: UndoBy = UndoBy.NONE
    undone_by: ActionId | None = None  # the counterpart, when undo is COUNTERPART
    prerequisites: tuple[Prerequisite, ...] = ()
    overridable: bool = False  # a responder may run it without its prerequisites (audited)
    # Actions that must finish first when they run together (ordering only, no refusal).
    runs_after: tuple[ActionId, ...] = ()

    def impact(self, *, target_is_admin: bool = False) -> Impact:
        """High for the always-high actions and for anything done to a directory admin."""
        return Impact.HIGH if self.high_impact or target_is_admin else Impact.STANDARD

    @property
    def undoable(self) -> bool:
        return self.undo is not UndoBy.NONE

    @property
    def waits_for(self) -> tuple[ActionId, ...]:
        """Every action this one waits for in the same run: its prerequisites and its ordering."""
        return tuple(dict.fromkeys([*(p.action for p in self.prerequisites), *self.runs_after]))

    def missing(self, succeeded: Iterable[ActionId]) -> list[ActionId]:
        done = set(succeeded)
        return [p.action for p in self.prerequisites if p.action not in done]

    def refusal(self, missing: Iterable[ActionId]) -> str:
        """The one sentence a card, the CLI and the audit log show when the prerequisites are not met."""
        unmet = {p.action: p.unmet for p in self.prerequisites}
        why = " and ".join(unmet[a] for a in missing if a in unmet) or "the account is not secured yet"
        tail = " (a responder can override, and it is audited)" if self.overridable else ""
        return f"{self.title} was refused because {why} in this incident; {self.refusal_reason}{tail}."

    @property
    def refusal_reason(self) -> str:
        return _REASONS.get(self.id, "it runs only once its prerequisites have succeeded")


_REASONS = {
    _A.UNBLOCK_SENDER: "Microsoft advises lifting the sending restriction only once the account is secured",
}

IMPACT_LABELS: dict[Impact, str] = {Impact.HIGH: "high impact", Impact.STANDARD: "standard impact"}
# A write Microsoft accepted whose read-back does not show it yet (it applies some changes with a delay).
NOT_YET_VISIBLE = "Written, not yet visible"
# What a high-impact action means for whoever chooses it.
SECOND_RESPONDER_NOTE = "needs second responder"

_SPECS = (
    ActionSpec(_A.RESET_PASSWORD, "Reset password",
               "Sets a random temporary password that must be changed at next sign-in.", high_impact=True),
    ActionSpec(_A.REVOKE_SESSIONS, "Revoke sessions",
               "Invalidates refresh tokens and browser sessions, forcing sign-in everywhere."),
    ActionSpec(_A.BLOCK_SIGNIN, "Block sign-in", "Disables the account so nobody can sign in with it.",
               high_impact=True, undo=UndoBy.COUNTERPART, undone_by=_A.UNBLOCK_SIGNIN),
    ActionSpec(_A.UNBLOCK_SIGNIN, "Unblock sign-in", "Enables the account again.",
               undo=UndoBy.COUNTERPART, undone_by=_A.BLOCK_SIGNIN,
               runs_after=(_A.BLOCK_SIGNIN, _A.RESET_PASSWORD)),
    ActionSpec(_A.RESET_MFA, "Reset MFA methods",
               "Removes the authentication methods the investigation flagged, so the owner re-registers."),
    ActionSpec(_A.DISABLE_INBOX_RULES, "Disable suspicious inbox rules",
               "Turns off the flagged rules (hidden ones included); nothing is deleted. Any inbox-rule change made "
               "through Exchange removes the mailbox's client-side Outlook rules.", undo=UndoBy.SNAPSHOT),
    ActionSpec(_A.REMOVE_FORWARDING, "Remove mailbox forwarding",
               "Clears the mailbox's forwarding address and stops forwarding copies.", undo=UndoBy.SNAPSHOT),
    ActionSpec(_A.REMOVE_DELEGATES, "Remove mailbox delegates",
               "Removes the flagged FullAccess, SendAs and send-on-behalf grants."),
    ActionSpec(_A.UNBLOCK_SENDER, "Lift outbound-spam block",
               "Removes the account from Restricted entities so it can send mail again.", high_impact=True,
               prerequisites=(Prerequisite(_A.RESET_PASSWORD, "the password has not been reset"),
                              Prerequisite(_A.REVOKE_SESSIONS, "sessions have not been revoked")),
               overridable=True),
    ActionSpec(_A.ENABLE_MAILBOX_AUDIT, "Enable mailbox auditing",
               "Ends the mailbox's audit bypass so its activity is recorded again."),
    ActionSpec(_A.CONFIRM_COMPROMISED, "Confirm compromised",
               "Marks the user compromised in Identity Protection, raising their risk to high."),
    ActionSpec(_A.DISMISS_RISK, "Dismiss user risk", "Dismisses the user's risk in Identity Protection.",
               runs_after=(_A.CONFIRM_COMPROMISED, _A.RESET_PASSWORD, _A.REVOKE_SESSIONS)),
    ActionSpec(_A.REMOVE_ADMIN_ROLES, "Remove admin roles",
               "Removes the account from the directory roles the investigation flagged.",
               high_impact=True),
    ActionSpec(_A.REVOKE_OAUTH_GRANTS, "Revoke app consents",
               "Deletes the flagged delegated permission grants to applications."),
    ActionSpec(_A.DISABLE_LEGACY_PROTOCOLS, "Disable legacy protocols",
               "Turns off IMAP and POP for the mailbox (they sign in with a password alone).",
               undo=UndoBy.SNAPSHOT),
)

CATALOG: dict[ActionId, ActionSpec] = {s.id: s for s in _SPECS}
assert set(CATALOG) == set(ActionId), "every action id needs a catalog entry"


def spec(action: ActionId | str) -> ActionSpec:
    return CATALOG[ActionId(action)]


def title(action: ActionId | str) -> str:
    return spec(action).title


def description(action: ActionId | str) -> str:
    return spec(action).description


def impact(action: ActionId | str, *, target_is_admin: bool = False) -> Impact:
    return spec(action).impact(target_is_admin=target_is_admin)


def is_high_impact(action: ActionId | str, *, target_is_admin: bool = False) -> bool:
    return impact(action, target_is_admin=target_is_admin) is Impact.HIGH


def impact_label(value: Impact) -> str:
    return IMPACT_LABELS[value]


def undoable(action: ActionId | str) -> bool:
    return spec(action).undoable


def undo_action(action: ActionId | str) -> ActionId:
    """The action a request to undo `action` runs: its counterpart, or itself restoring the snapshot."""
    s = spec(action)
    return s.undone_by if s.undo is UndoBy.COUNTERPART and s.undone_by is not None else s.id


def prerequisites_note(action: ActionId | str) -> str:
    """One line for a card: what the action waits for."""
    s = spec(action)
    return f"{s.title} runs only after: {', '.join(title(p.action) for p in s.prerequisites)}."


def high_impact_actions() -> frozenset[ActionId]:
    return frozenset(s.id for s in _SPECS if s.high_impact)


def undo_text(action: ActionId | str) -> str:
    s = spec(action)
    if s.undo is UndoBy.COUNTERPART and s.undone_by is not None:
        return f"yes, by {title(s.undone_by)}"
    if s.undo is UndoBy.SNAPSHOT:
        return "yes, restored from the snapshot taken before it ran"
    return "no"


def markdown_table() -> str:
    """docs/actions.md's table (a test checks the document holds exactly this)."""
    rows = ["| Action id | Title | What it does | Impact | Undo | Needs first |",
            "|---|---|---|---|---|---|"]
    for s in _SPECS:
        needs = ", ".join(f"`{p.action.value}`" for p in s.prerequisites) or "—"
        if s.overridable:
            needs += " (override audited)"
        rows.append(f"| `{s.id.value}` | {s.title} | {s.description} | {impact_label(s.impact())} "
                    f"| {undo_text(s.id)} | {needs} |")
    return "\n".join(rows)
