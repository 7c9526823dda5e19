"""Human titles and one-line descriptions of the fifteen containment actions, as the cards word them.

If services grows an action registry with its own titles, the cards prefer it (see ``title``);
the wording here is the fallback and the single place a card looks an action up.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.vocabulary import HIGH_IMPACT_ACTIONS, ActionId, Impact


@dataclass(frozen=True, slots=True)
class ActionText:
    title: str
    does: str  # what it will do, one line, for the confirm card


_A = ActionId
CATALOG: dict[ActionId, ActionText] = {
    _A.RESET_PASSWORD: ActionText(
        "Reset password", "Sets a random temporary password that must be changed at next sign-in."
    ),
    _A.REVOKE_SESSIONS: ActionText(
        "Revoke sessions", "Invalidates refresh tokens and browser sessions, forcing sign-in everywhere."
    ),
    _A.BLOCK_SIGNIN: ActionText("Block sign-in", "Disables the account so nobody can sign in with it."),
    _A.UNBLOCK_SIGNIN: ActionText("Unblock sign-in", "Enables the account again."),
    _A.RESET_MFA: ActionText(
        "Reset MFA methods", "Removes authentication methods registered since the suspicious activity began."
    ),
    _A.DISABLE_INBOX_RULES: ActionText(
        "Disable suspicious inbox rules", "Turns off the flagged rules (hidden ones included); nothing is deleted."
    ),
    _A.REMOVE_FORWARDING: ActionText(
        "Remove mailbox forwarding", "Clears the mailbox's forwarding address and stops forwarding copies."
    ),
    _A.REMOVE_DELEGATES: ActionText(
        "Remove mailbox delegates", "Removes the flagged FullAccess, SendAs and send-on-behalf grants."
    ),
    _A.UNBLOCK_SENDER: ActionText(
        "Lift outbound-spam block", "Removes the account from Restricted entities so it can send mail again."
    ),
    _A.ENABLE_MAILBOX_AUDIT: ActionText(
        "Enable mailbox auditing", "Turns mailbox audit logging on so later activity is recorded."
    ),
    _A.CONFIRM_COMPROMISED: ActionText(
        "Confirm compromised", "Marks the user compromised in Identity Protection, raising their risk to high."
    ),
    _A.DISMISS_RISK: ActionText("Dismiss user risk", "Dismisses the user's risk in Identity Protection."),
    _A.REMOVE_ADMIN_ROLES: ActionText(
        "Remove admin roles", "Removes the account from every directory role it holds."
    ),
    _A.REVOKE_OAUTH_GRANTS: ActionText(
        "Revoke app consents", "Deletes the flagged delegated permission grants to applications."
    ),
    _A.DISABLE_LEGACY_PROTOCOLS: ActionText(
        "Disable legacy protocols", "Turns off IMAP, POP, EWS and ActiveSync for the mailbox."
    ),
}

# Actions the done card offers to undo; the services layer restores them from the snapshot.
UNDOABLE: frozenset[ActionId] = frozenset({_A.BLOCK_SIGNIN, _A.DISABLE_INBOX_RULES, _A.REMOVE_FORWARDING})


def title(action: ActionId) -> str:
    return CATALOG[action].title


def does(action: ActionId) -> str:
    return CATALOG[action].does


def impact(action: ActionId, *, target_is_admin: bool = False) -> Impact:
    """High for the always-high actions and for anything done to a directory admin."""
    if target_is_admin or action in HIGH_IMPACT_ACTIONS:
        return Impact.HIGH
    return Impact.STANDARD
