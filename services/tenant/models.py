"""Plain, frozen data the Tenant facade returns: only what the product needs, no SDK models.

`raw` fields keep the whole object as the service returned it (JSON-shaped), so snapshots taken
before a write can restore it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class UserState:
    id: str
    user_principal_name: str
    display_name: str
    mail: str | None
    account_enabled: bool
    last_password_change: datetime | None = None
    last_sign_in: datetime | None = None
    last_non_interactive_sign_in: datetime | None = None
    created: datetime | None = None
    sessions_valid_from: datetime | None = None  # signInSessionsValidFromDateTime: revocations
    on_premises_sync: bool = False  # onPremisesSyncEnabled: mastered in on-premises AD, synced to the cloud
    user_type: str | None = None  # Member or Guest
    # What the read could not include, one sentence each (e.g. signInActivity without a P1 licence).
    gaps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SignIn:
    id: str
    created: datetime | None
    ip_address: str | None
    country: str | None
    city: str | None
    app: str | None
    client_app_used: str | None
    error_code: int | None
    risk_level: str | None = None
    user_agent: str | None = None
    interactive: bool = True  # False: a token refresh or replay, from the non-interactive log (beta)

    @property
    def succeeded(self) -> bool:
        return not self.error_code


@dataclass(frozen=True, slots=True)
class RiskyUser:
    id: str
    user_principal_name: str | None
    risk_level: str | None
    risk_state: str | None
    risk_detail: str | None = None
    last_updated: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuthMethod:
    id: str
    type: str  # password, microsoftAuthenticator, phone, fido2, email, softwareOath, ...
    display_name: str | None = None
    created: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class MethodRegistration:
    """A "User/Admin registered security info" event of the directory audit log: the only record of when
    and from where a method was registered (no method type has an IP, phone and email methods no date)."""

    at: datetime | None
    method_type: str | None  # microsoftAuthenticator, phone, email, fido2, softwareOath, ... (None: unknown)
    phone_type: str | None  # mobile, alternateMobile, office for phone methods
    ip_address: str | None  # the initiator's
    by_admin: bool = False  # "Admin registered security info"
    initiated_by: str | None = None  # the initiator's UPN
    detail: str | None = None  # resultReason, as the log words it


@dataclass(frozen=True, slots=True)
class SignInPreferences:
    """The account's default second factor (beta signInPreferences); None when Graph did not say."""

    default_method: str | None  # userPreferredMethodForSecondaryAuthentication: push, oath, sms, voiceMobile, ...
    system_preferred: bool | None = None


@dataclass(frozen=True, slots=True)
class InboxRule:
    """An inbox rule as Graph (`source="graph"`) or Exchange (`source="exchange"`) reports it."""

    id: str  # Graph rule id, or Exchange's Identity
    name: str
    enabled: bool
    source: str
    forward_to: tuple[str, ...] = ()
    redirect_to: tuple[str, ...] = ()
    forward_as_attachment_to: tuple[str, ...] = ()
    delete: bool = False
    move_to_folder: str | None = None
    keywords: tuple[str, ...] = ()
    hidden: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    # Exchange's own rules (junk mail, automatic replies `Microsoft.Exchange.OOF.*`): never a finding.
    system: bool = False

    @property
    def forwards_to(self) -> tuple[str, ...]:
        return self.forward_to + self.redirect_to + self.forward_as_attachment_to


@dataclass(frozen=True, slots=True)
class Recipient:
    """An Exchange recipient identity (what ForwardingAddress and GrantSendOnBehalfTo hold) as Get-Recipient
    resolves it. `address` is where its mail goes: the external address for a mail contact or mail user.
    `kind` is RecipientTypeDetails, None when Exchange could not resolve the identity."""

    identity: str
    kind: str | None = None
    address: str | None = None
    display_name: str | None = None

    @property
    def is_external_kind(self) -> bool:
        """A contact or mail user: its mail leaves this organisation's mailboxes."""
        return (self.kind or "") in ("MailContact", "MailUser", "GuestMailUser")


@dataclass(frozen=True, slots=True)
class Mailbox:
    identity: str
    user_principal_name: str | None
    forwarding_smtp_address: str | None
    forwarding_address: str | None
    deliver_to_mailbox_and_forward: bool
    audit_enabled: bool | None
    grant_send_on_behalf_to: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    # The recipient identities above, resolved with Get-Recipient (same order as grant_send_on_behalf_to).
    forwarding_recipient: Recipient | None = None
    send_on_behalf: tuple[Recipient, ...] = ()


@dataclass(frozen=True, slots=True)
class MailboxPermission:
    identity: str
    user: str
    access_rights: tuple[str, ...]
    is_inherited: bool = False
    deny: bool = False


@dataclass(frozen=True, slots=True)
class RecipientPermission:
    identity: str
    trustee: str
    access_rights: tuple[str, ...]
    is_inherited: bool = False


@dataclass(frozen=True, slots=True)
class BlockedSender:
    sender_address: str
    reason: str | None = None
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrganizationConfig:
    audit_disabled: bool
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class AuditBypass:
    identity: str
    bypass_enabled: bool


@dataclass(frozen=True, slots=True)
class CasMailbox:
    identity: str
    imap_enabled: bool | None
    pop_enabled: bool | None
    ews_enabled: bool | None
    activesync_enabled: bool | None
    mapi_enabled: bool | None = None
    owa_enabled: bool | None = None
    smtp_client_authentication_disabled: bool | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class DirectoryRole:
    id: str
    display_name: str
    role_template_id: str | None = None


@dataclass(frozen=True, slots=True)
class OAuthGrant:
    id: str
    client_id: str  # the client app's service principal object id
    client_display_name: str | None
    client_app_id: str | None
    consent_type: str | None  # Principal or AllPrincipals
    principal_id: str | None
    resource_id: str | None
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SecureScore:
    created: datetime | None
    current_score: float
    max_score: float
    averages: tuple[dict[str, Any], ...] = ()  # [{"basis": "AllTenants", "averageScore": 41.2}, ...]
    control_scores: tuple[dict[str, Any], ...] = ()  # [{"controlName", "controlCategory", "score"}]


@dataclass(frozen=True, slots=True)
class ControlProfile:
    id: str
    title: str
    max_score: float
    category: str | None = None
    action_url: str | None = None
    tier: str | None = None
    deprecated: bool = False
    user_impact: str | None = None
    implementation_cost: str | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    id: str
    status: str  # notStarted, running, succeeded, failed, cancelled


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: str
    created: datetime | None
    operation: str | None
    user_principal_name: str | None
    object_id: str | None
    client_ip: str | None
    audit_data: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class SecurityAlert:
    id: str
    title: str | None
    severity: str | None
    status: str | None
    created: datetime | None
    service_source: str | None
    # (object id, UPN) of each user in the alert's evidence
    users: tuple[tuple[str | None, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    is_default: bool
    is_initial: bool
    federated: bool = False  # authentication type Federated: sign-in happens at the federation service
