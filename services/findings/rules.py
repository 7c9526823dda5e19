"""From what the tenant says about one account to ranked findings: pure functions, no I/O.

`Reads` holds the raw reads (None means "not read", which is not the same as "nothing there");
`assess(reads)` returns the findings and the recommended actions. The rules follow Microsoft's
guidance for a compromised account; thresholds are module constants so tests can name them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.findings.account import is_guest
from services.findings.mail import delegate_findings, mailbox_findings, rule_findings
from services.findings.methods import method_facts
from services.tenant.models import (
    AuditBypass,
    AuthMethod,
    BlockedSender,
    DirectoryRole,
    InboxRule,
    Mailbox,
    MailboxPermission,
    MethodRegistration,
    OAuthGrant,
    OrganizationConfig,
    RecipientPermission,
    RiskyUser,
    SignIn,
    UserState,
)
from services.vocabulary import ActionId, Finding, FindingKind, Severity, UserRef

IMPOSSIBLE_TRAVEL_WINDOW = timedelta(hours=1)
RECENT_METHOD_WINDOW = timedelta(days=7)
LEGACY_CLIENTS = frozenset({
    "imap4", "pop3", "smtp", "authenticated smtp", "other clients", "exchange activesync", "exchange web services",
    "mapi over http", "outlook anywhere (rpc over http)", "autodiscover", "offline address book",
    "reporting web services", "exchange online powershell",
})
RISKY_SCOPES = frozenset({
    "mail.read", "mail.readwrite", "mail.send", "mail.readbasic", "mailboxsettings.readwrite", "full_access_as_user",
    "ews.accessasuser.all", "imap.accessasuser.all", "pop.accessasuser.all", "smtp.send", "files.read.all",
    "files.readwrite.all", "sites.readwrite.all", "contacts.read", "contacts.readwrite", "directory.readwrite.all",
    "user.readwrite.all", "mail.read.shared", "mail.readwrite.shared", "mail.send.shared",
})
WRITE_SCOPES = frozenset({"mail.readwrite", "mail.send", "mailboxsettings.readwrite", "full_access_as_user",
                          "ews.accessasuser.all", "smtp.send", "files.readwrite.all", "mail.send.shared"})
# Microsoft first-party clients users routinely consent to (appId).
KNOWN_APP_IDS = frozenset({
    "00000002-0000-0ff1-ce00-000000000000",  # Office 365 Exchange Online
    "d3590ed6-52b3-4102-aeff-aad2292ab01c",  # Microsoft Office
    "27922004-5251-4030-b22d-91ecd9a37ea4",  # Outlook Mobile
    "1fec8e78-bce4-4aaf-ab1b-5451cc387264",  # Microsoft Teams
    "4765445b-32c6-49b0-83e6-1d93765276ca",  # Office web
    "de8bc8b5-d9f9-48b1-a8ad-b748da725064",  # Graph Explorer
    "14d82eec-204b-4c2f-b7e8-296a70dab67e",  # Microsoft Graph Command Line Tools
})
# The order responders should run actions in: lock the attacker out first, then clean up, then
# restore what the compromise broke (Microsoft: lift the sending restriction last).
ACTION_ORDER = (
    ActionId.RESET_PASSWORD, ActionId.REVOKE_SESSIONS, ActionId.CONFIRM_COMPROMISED, ActionId.BLOCK_SIGNIN,
    ActionId.DISABLE_INBOX_RULES, ActionId.REMOVE_FORWARDING, ActionId.REMOVE_DELEGATES, ActionId.RESET_MFA,
    ActionId.REVOKE_OAUTH_GRANTS, ActionId.DISABLE_LEGACY_PROTOCOLS, ActionId.REMOVE_ADMIN_ROLES,
    ActionId.ENABLE_MAILBOX_AUDIT, ActionId.UNBLOCK_SENDER, ActionId.DISMISS_RISK, ActionId.UNBLOCK_SIGNIN,
)


@dataclass(frozen=True)
class Reads:
    user: UserRef
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    domains: tuple[str, ...] = ()  # the tenant's verified domains; any other domain is external
    state: UserState | None = None
    sign_ins: tuple[SignIn, ...] | None = None
    risky: RiskyUser | None = None
    methods: tuple[AuthMethod, ...] | None = None
    registrations: tuple[MethodRegistration, ...] | None = None  # "registered security info" audit events
    graph_rules: tuple[InboxRule, ...] | None = None
    exchange_rules: tuple[InboxRule, ...] | None = None
    mailbox: Mailbox | None = None
    mailbox_permissions: tuple[MailboxPermission, ...] | None = None
    recipient_permissions: tuple[RecipientPermission, ...] | None = None
    blocked_senders: tuple[BlockedSender, ...] | None = None
    org_config: OrganizationConfig | None = None
    bypass: AuditBypass | None = None
    roles: tuple[DirectoryRole, ...] | None = None
    grants: tuple[OAuthGrant, ...] | None = None
    known_app_ids: frozenset[str] = KNOWN_APP_IDS


@dataclass(frozen=True)
class Assessment:
    findings: tuple[Finding, ...]
    recommended_actions: tuple[ActionId, ...]


def _at(dt: datetime | None) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if dt else "an unknown time"


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def risky_user_finding(risky: RiskyUser | None) -> Finding | None:
    # Only an open risk is a finding: confirmed, remediated and dismissed states are decisions already
    # taken (the card header still shows the state).
    if risky is None or risky.risk_state != "atRisk":
        return None
    level = (risky.risk_level or "").lower()
    if level == "high":
        severity = Severity.HIGH
    elif level == "medium":
        severity = Severity.MEDIUM
    elif level == "low":
        severity = Severity.LOW
    else:
        return None
    actions = (ActionId.CONFIRM_COMPROMISED,)
    return Finding(FindingKind.RISKY_USER, severity, f"Identity Protection rates this account {level or 'risky'} risk",
                   evidence=(f"Risk level {level or 'unknown'}, state {risky.risk_state}"
                             + (f", {risky.risk_detail}" if risky.risk_detail and risky.risk_detail != "none" else "")
                             + f", updated {_at(risky.last_updated)}.",),
                   actions=(*actions, ActionId.RESET_PASSWORD, ActionId.REVOKE_SESSIONS),
                   details={"riskLevel": level, "riskState": risky.risk_state}, targets=(risky.id,))


def _when(s: SignIn) -> datetime:
    return _utc(s.created) or datetime.min.replace(tzinfo=UTC)


def signin_finding(sign_ins: tuple[SignIn, ...] | None, *, contained_at: datetime | None = None) -> Finding | None:
    """Impossible travel (two countries within an hour), legacy protocols, risky sign-ins.

    Sign-ins from before `contained_at` (the last password change or session revocation) are history:
    their sessions no longer work, so they are not a finding any more."""
    if not sign_ins:
        return None
    ok = sorted((s for s in sign_ins if s.succeeded and s.created
                 and (contained_at is None or _when(s) > contained_at)), key=_when)
    countries = [s.country for s in ok if s.country]
    usual = max(set(countries), key=lambda c: (countries.count(c), -countries.index(c))) if countries else None
    suspicious: dict[str, SignIn] = {}
    travel: list[str] = []
    for a, b in itertools.pairwise(ok):
        gap = _when(b) - _when(a)
        if a.country and b.country and a.country != b.country and gap <= IMPOSSIBLE_TRAVEL_WINDOW:
            travel.append(f"Signed in from {a.country} ({a.ip_address}) and {b.country} ({b.ip_address}) "
                          f"{int(gap.total_seconds() // 60)} minutes apart, at {_at(b.created)}.")
            suspicious.update((s.id, s) for s in (a, b) if s.country != usual)
    legacy = [s for s in ok if (s.client_app_used or "").lower() in LEGACY_CLIENTS]
    legacy_lines = [f"Legacy protocol {s.client_app_used} sign-in from {s.ip_address}"
                    f"{' in ' + s.country if s.country else ''} at {_at(s.created)}." for s in legacy]
    suspicious.update((s.id, s) for s in legacy)
    risky = [s for s in ok if (s.risk_level or "").lower() in ("medium", "high") and s.id not in suspicious]
    risky_lines = [f"Sign-in rated {s.risk_level} risk from {s.ip_address} at {_at(s.created)}." for s in risky]
    suspicious.update((s.id, s) for s in risky)
    if not suspicious:
        return None
    ordered = sorted(suspicious.values(), key=_when)
    actions = [ActionId.RESET_PASSWORD, ActionId.REVOKE_SESSIONS]
    if legacy:
        actions.append(ActionId.DISABLE_LEGACY_PROTOCOLS)
    if travel:
        title = "Impossible travel" + (" and legacy-protocol sign-ins" if legacy else "")
    else:
        title = "Sign-ins over legacy protocols" if legacy else "Risky sign-ins"
    return Finding(FindingKind.SUSPICIOUS_SIGNIN, Severity.HIGH if travel or legacy else Severity.MEDIUM, title,
                   evidence=tuple(travel + legacy_lines + risky_lines), actions=tuple(actions),
                   details={"attackerIps": list(dict.fromkeys(s.ip_address for s in ordered if s.ip_address)),
                            "firstSuspicious": _when(ordered[0]).isoformat(), "usualCountry": usual,
                            "legacyProtocols": sorted({s.client_app_used for s in legacy if s.client_app_used})},
                   targets=tuple(s.id for s in ordered))


def method_findings(methods: tuple[AuthMethod, ...] | None, *, now: datetime, first_suspicious: datetime | None,
                    attacker_ips: set[str], registrations: tuple[MethodRegistration, ...] | None = None
                    ) -> list[Finding]:
    """New methods: registered from an attacker's IP, after the first suspicious sign-in, or recently. The
    time and IP come from the method and the directory audit log (services.findings.methods)."""
    if methods is None:
        return []
    strong = [m for m in methods if m.type != "password"]
    if not strong:
        return [Finding(FindingKind.NO_MFA, Severity.MEDIUM, "No multifactor authentication method registered",
                        evidence=("Only a password protects this account; register MFA after the password reset.",),
                        details={})]
    added: list[tuple[AuthMethod, str]] = []
    for m in strong:
        facts = method_facts(m, registrations)
        created, ip = facts.registered, facts.ip_address
        if ip and ip in attacker_ips:
            added.append((m, f"registered from the attacker's IP {ip} at {_at(created)}"))
        elif created and first_suspicious and created >= first_suspicious:
            added.append((m, f"registered at {_at(created)}, after the first suspicious sign-in"))
        elif created and now - created <= RECENT_METHOD_WINDOW:
            added.append((m, f"registered recently, at {_at(created)}"))
    if not added:
        return []
    severe = any("attacker" in why or "after the first" in why for _, why in added)
    return [Finding(FindingKind.MFA_METHOD_ADDED, Severity.HIGH if severe else Severity.MEDIUM,
                    "New authentication method registered" if len(added) == 1 else
                    f"{len(added)} new authentication methods registered",
                    evidence=tuple(f"{m.type} method {m.display_name or m.id} {why}." for m, why in added),
                    actions=(ActionId.RESET_MFA,),
                    details={"methods": [{"id": m.id, "type": m.type} for m, _ in added],
                             "cutoff": first_suspicious.isoformat() if first_suspicious else None},
                    targets=tuple(m.id for m, _ in added))]


# What a delegated scope lets an app do, in the words the card uses (first match wins, most powerful first).
SCOPE_POWERS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"full_access_as_user", "ews.accessasuser.all", "imap.accessasuser.all", "pop.accessasuser.all"}),
     "has full access to this mailbox"),
    (frozenset({"mail.readwrite", "mail.readwrite.shared"}), "can read and change this mailbox's mail"),
    (frozenset({"mail.read", "mail.readbasic", "mail.read.shared"}), "can read this mailbox"),
    (frozenset({"mail.send", "smtp.send", "mail.send.shared"}), "can send mail as this account"),
    (frozenset({"mailboxsettings.readwrite"}), "can change mailbox settings (rules, forwarding)"),
    (frozenset({"files.readwrite.all", "sites.readwrite.all"}), "can read and change files"),
    (frozenset({"files.read.all"}), "can read files"),
    (frozenset({"contacts.read", "contacts.readwrite"}), "can read contacts"),
    (frozenset({"directory.readwrite.all", "user.readwrite.all"}), "can change the directory"),
)
MAIL_POWERS = ("has full access to this mailbox", "can read and change this mailbox's mail", "can read this mailbox")
OFFLINE = "offline_access"


def methods_after(signin: Finding | None, methods: tuple[AuthMethod, ...] | None, *, now: datetime,
                  registrations: tuple[MethodRegistration, ...] | None) -> list[Finding]:
    """The method findings given the sign-in finding (its attacker IPs and first suspicious sign-in)."""
    attacker_ips = set(signin.details["attackerIps"]) if signin else set()
    first = signin.details.get("firstSuspicious") if signin else None
    return method_findings(methods, now=now, first_suspicious=datetime.fromisoformat(first) if first else None,
                           attacker_ips=attacker_ips, registrations=registrations)


def flagged_methods(methods: tuple[AuthMethod, ...], *, sign_ins: tuple[SignIn, ...] | None,
                    registrations: tuple[MethodRegistration, ...] | None, now: datetime) -> tuple[str, ...]:
    """The ids the mfa_method_added rule flags, for reset_mfa asked for without an investigation: the same
    rule the investigation applies, never a second one."""
    found = methods_after(signin_finding(sign_ins), methods, now=now, registrations=registrations)
    return tuple(t for f in found if f.kind is FindingKind.MFA_METHOD_ADDED for t in f.targets)


def grant_powers(scopes: tuple[str, ...]) -> list[str]:
    """What the scopes let the app do, most powerful first ("can send mail as this account", ...)."""
    low = {s.lower() for s in scopes}
    powers = [text for names, text in SCOPE_POWERS if low & names]
    # Full access covers reading and changing mail: say the strongest mail power only.
    mail = [p for p in powers if p in MAIL_POWERS]
    return [p for p in powers if p not in mail[1:]]


def grant_sentence(name: str, scopes: tuple[str, ...]) -> str:
    powers = grant_powers(scopes)
    if not powers:
        return f"Unfamiliar app {name} holds delegated consent"
    head = ", ".join(powers[:-1]) + (" and " if len(powers) > 1 else "") + powers[-1]
    return f"Unfamiliar app {name} {head}"


def grant_findings(grants: tuple[OAuthGrant, ...] | None, known: frozenset[str]) -> list[Finding]:
    """One finding per delegated consent to an unfamiliar app with a scope that reaches mail, files or the
    directory; the finding targets that grant's id. The sentence follows the scopes (read, send, full
    access); offline_access keeps the app working after a password reset."""
    out = []
    for g in grants or ():
        scopes = {s.lower() for s in g.scopes}
        risky = sorted(s for s in g.scopes if s.lower() in RISKY_SCOPES)
        if not risky or (g.client_app_id or "").lower() in known:
            continue
        persistent = OFFLINE in scopes
        severity = Severity.HIGH if scopes & WRITE_SCOPES or persistent else Severity.MEDIUM
        name = g.client_display_name or g.client_id
        evidence = [f"Delegated consent to {name} for {', '.join(g.scopes)}."]
        if persistent:
            evidence.append("offline_access keeps it working after a password reset; revoke the consent.")
        out.append(Finding(FindingKind.OAUTH_GRANT, severity, grant_sentence(name, g.scopes),
                           evidence=tuple(evidence), actions=(ActionId.REVOKE_OAUTH_GRANTS,),
                           details={"grantId": g.id, "clientId": g.client_id, "appId": g.client_app_id,
                                    "scopes": list(g.scopes), "powers": grant_powers(g.scopes),
                                    "offlineAccess": persistent},
                           targets=(g.id,)))
    return out


def role_finding(roles: tuple[DirectoryRole, ...] | None, *, compromised: bool) -> Finding | None:
    if not roles:
        return None
    names = ", ".join(r.display_name or "(name not readable)" for r in roles)
    return Finding(FindingKind.ADMIN_ROLE, Severity.HIGH if compromised else Severity.LOW,
                   f"Holds directory role{'s' if len(roles) > 1 else ''} {names}",
                   evidence=(f"Member of {names}; every action on this account needs a second responder.",),
                   actions=(ActionId.REMOVE_ADMIN_ROLES,) if compromised else (),
                   details={"roles": [{"id": r.id, "displayName": r.display_name,
                                       "roleTemplateId": r.role_template_id} for r in roles]},
                   targets=tuple(r.id for r in roles))


def _contained_at(reads: Reads) -> datetime | None:
    if reads.state is None:
        return None
    marks = [m for m in (_utc(reads.state.last_password_change), _utc(reads.state.sessions_valid_from)) if m]
    return max(marks) if marks else None


def assess(reads: Reads) -> Assessment:
    """Every finding about the account, ranked by severity, and the actions to recommend."""
    findings: list[Finding] = []
    risky = risky_user_finding(reads.risky)
    signin = signin_finding(reads.sign_ins, contained_at=_contained_at(reads))
    findings.extend(f for f in (risky, signin) if f)
    # A guest's methods live in its home organisation: an empty list here says nothing about its MFA.
    if not is_guest(reads.user.user_principal_name, reads.state):
        findings.extend(methods_after(signin, reads.methods, now=_utc(reads.now) or datetime.now(UTC),
                                      registrations=reads.registrations))
    findings.extend(rule_findings(reads.graph_rules, reads.exchange_rules, domains=reads.domains))
    findings.extend(mailbox_findings(reads, domains=reads.domains))
    findings.extend(delegate_findings(reads.mailbox_permissions, reads.recipient_permissions, reads.mailbox,
                                      domains=reads.domains))
    findings.extend(grant_findings(reads.grants, reads.known_app_ids))
    compromised = any(f.severity is Severity.HIGH for f in findings)
    role = role_finding(reads.roles, compromised=compromised)
    if role:
        findings.append(role)
    enabled = reads.state.account_enabled if reads.state else reads.user.account_enabled
    if not enabled:
        findings.append(Finding(FindingKind.ACCOUNT_DISABLED, Severity.INFO, "Sign-in is blocked",
                                evidence=("The account is disabled; nobody can sign in with it.",)))
    findings.sort(key=lambda f: -f.severity.rank)
    return Assessment(findings=tuple(findings), recommended_actions=recommend(findings, compromised=compromised))


def recommend(findings: list[Finding], *, compromised: bool) -> tuple[ActionId, ...]:
    """Actions of every finding at medium or above, in ACTION_ORDER; a compromised account always
    gets reset_password and revoke_sessions."""
    wanted: set[ActionId] = set()
    for f in findings:
        if f.severity.rank >= Severity.MEDIUM.rank:
            wanted.update(f.actions)
    if compromised:
        wanted.update((ActionId.RESET_PASSWORD, ActionId.REVOKE_SESSIONS))
    return tuple(a for a in ACTION_ORDER if a in wanted)
