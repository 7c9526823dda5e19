"""The stable vocabulary of Contain: finding kinds, action ids, severities and the plain data that
flows between services, dialogs and cards.

Ids here are part of the product's interface: cards, CLI JSON, audit rows and tests all use them.
Everything is a frozen dataclass or a string enum so it serialises to JSON without surprises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class FindingKind(StrEnum):
    RISKY_USER = "risky_user"
    SUSPICIOUS_SIGNIN = "suspicious_signin"
    INBOX_RULE_FORWARD = "inbox_rule_forward"
    INBOX_RULE_DELETE = "inbox_rule_delete"
    INBOX_RULE_HIDDEN = "inbox_rule_hidden"
    MAILBOX_FORWARDING = "mailbox_forwarding"
    MAILBOX_DELEGATE = "mailbox_delegate"
    BLOCKED_SENDER = "blocked_sender"
    MAILBOX_AUDIT_OFF = "mailbox_audit_off"
    MFA_METHOD_ADDED = "mfa_method_added"
    NO_MFA = "no_mfa"
    ADMIN_ROLE = "admin_role"
    OAUTH_GRANT = "oauth_grant"
    ACCOUNT_DISABLED = "account_disabled"


class ActionId(StrEnum):
    RESET_PASSWORD = "reset_password"
    REVOKE_SESSIONS = "revoke_sessions"
    BLOCK_SIGNIN = "block_signin"
    UNBLOCK_SIGNIN = "unblock_signin"
    RESET_MFA = "reset_mfa"
    DISABLE_INBOX_RULES = "disable_inbox_rules"
    REMOVE_FORWARDING = "remove_forwarding"
    REMOVE_DELEGATES = "remove_delegates"
    UNBLOCK_SENDER = "unblock_sender"
    ENABLE_MAILBOX_AUDIT = "enable_mailbox_audit"
    CONFIRM_COMPROMISED = "confirm_compromised"
    DISMISS_RISK = "dismiss_risk"
    REMOVE_ADMIN_ROLES = "remove_admin_roles"
    REVOKE_OAUTH_GRANTS = "revoke_oauth_grants"
    DISABLE_LEGACY_PROTOCOLS = "disable_legacy_protocols"


class Impact(StrEnum):
    STANDARD = "standard"
    HIGH = "high"



class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; used to order findings on the card."""
        return {"high": 3, "medium": 2, "low": 1, "info": 0}[self.value]


class ActionStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # nothing to do: none of the flagged objects exist any more / state already wanted
    PARTIAL = "partial"  # some flagged objects were addressed, others remain (the detail names them)
    REFUSED = "refused"  # a precondition was not met; nothing was written


@dataclass(frozen=True, slots=True)
class UserRef:
    """The account an incident is about, as the tenant reports it."""

    id: str
    user_principal_name: str
    display_name: str
    account_enabled: bool = True
    mail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "userPrincipalName": self.user_principal_name,
            "displayName": self.display_name,
            "accountEnabled": self.account_enabled,
            "mail": self.mail,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the investigation found, with the actions that address it."""

    kind: FindingKind
    severity: Severity
    title: str
    evidence: tuple[str, ...] = ()
    actions: tuple[ActionId, ...] = ()
    # Machine-readable facts (rule ids, method ids, addresses) for the actions and the JSON output.
    details: dict[str, Any] = field(default_factory=dict, compare=False)
    # The exact objects this finding flagged (method ids, rule identities, grant ids, delegate identities,
    # role ids, "auditBypass"): the actions it recommends address exactly these (see targets_by_action).
    targets: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "targets": list(self.targets),
            "severity": self.severity.value,
            "title": self.title,
            "evidence": list(self.evidence),
            "actions": [a.value for a in self.actions],
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class Resolved:
    user: UserRef


@dataclass(frozen=True, slots=True)
class Ambiguous:
    query: str
    candidates: tuple[UserRef, ...]


@dataclass(frozen=True, slots=True)
class NotFound:
    query: str


Resolution = Resolved | Ambiguous | NotFound


@dataclass(frozen=True, slots=True)
class Investigation:
    """Everything the incident card shows about one account."""

    user: UserRef
    findings: tuple[Finding, ...]
    recommended_actions: tuple[ActionId, ...]
    risk_level: str | None = None
    risk_state: str | None = None
    is_admin: bool = False
    # The directory roles could not be read: is_admin is then True (unknown is treated as admin, so every
    # action needs a second responder) and the card says the roles are unknown rather than held.
    admin_unknown: bool = False
    # Reads that failed, one sentence each: the card shows them instead of hiding a gap.
    gaps: tuple[str, ...] = ()
    investigated_at: datetime | None = None
    # What the reads covered, one sentence each ("Sign-ins read: interactive and non-interactive.").
    notes: tuple[str, ...] = ()
    # What a responder must know before running an action on this account (a synced account's password),
    # by action id; the incident and confirm cards show it next to the action.
    cautions: dict[str, str] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user.to_json(),
            "riskLevel": self.risk_level,
            "riskState": self.risk_state,
            "isAdmin": self.is_admin,
            "adminUnknown": self.admin_unknown,
            "findings": [f.to_json() for f in self.findings],
            "recommended_actions": [a.value for a in self.recommended_actions],
            "gaps": list(self.gaps),
            "investigatedAt": self.investigated_at.isoformat() if self.investigated_at else None,
            "notes": list(self.notes),
            "cautions": dict(self.cautions),
        }


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The outcome of one containment action. The temporary password never reaches repr or JSON
    unless the caller asks for it explicitly."""

    action: ActionId
    status: ActionStatus
    verified: bool
    detail: str = ""
    request_ids: tuple[str, ...] = ()
    temporary_password: str | None = field(default=None, repr=False, compare=False)

    def to_json(self, *, include_password: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action.value,
            "status": self.status.value,
            "verified": self.verified,
            "detail": self.detail,
            "request_ids": list(self.request_ids),
        }
        if include_password and self.temporary_password is not None:
            out["temporary_password"] = self.temporary_password
        return out


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked for or approved something: a Teams user's AAD object id and name, or an OS user."""

    id: str
    name: str


def targets_by_action(investigation: Mapping[str, Any] | None) -> dict[ActionId, tuple[str, ...]]:
    """For each recommended action, the objects the investigation's findings flagged for it (union over
    the findings that recommend it, in finding order). An action no finding names targets is absent."""
    out: dict[ActionId, list[str]] = {}
    for finding in (investigation or {}).get("findings") or ():
        targets = [str(t) for t in finding.get("targets") or ()]
        if not targets:
            continue
        for action in finding.get("actions") or ():
            try:
                key = ActionId(action)
            except ValueError:
                continue
            bucket = out.setdefault(key, [])
            bucket.extend(t for t in targets if t not in bucket)
    return {k: tuple(v) for k, v in out.items()}
