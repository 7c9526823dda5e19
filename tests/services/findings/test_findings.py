"""Findings rules on plain data: each kind, a clean account, an admin."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.findings.rules import Reads, assess
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
)
from services.vocabulary import ActionId, FindingKind, Severity, UserRef

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
DOMAINS = ("contoso.com", "contoso.onmicrosoft.com")
ALICE = UserRef(id="a1", user_principal_name="alice@contoso.com", display_name="Alice", mail="alice@contoso.com")


def signin(i: int, minutes_ago: int, country: str, ip: str, client: str = "Browser", error: int = 0) -> SignIn:
    return SignIn(id=f"s{i}", created=NOW - timedelta(minutes=minutes_ago), ip_address=ip, country=country,
                  city=None, app="Office 365", client_app_used=client, error_code=error)


def clean_reads(user: UserRef = ALICE) -> Reads:
    mailbox = Mailbox(identity=user.user_principal_name, user_principal_name=user.user_principal_name,
                      forwarding_smtp_address=None, forwarding_address=None, deliver_to_mailbox_and_forward=False,
                      audit_enabled=True)
    return Reads(
        user=user, now=NOW, domains=DOMAINS,
        sign_ins=(signin(1, 3000, "US", "20.1.1.1"), signin(2, 1500, "US", "20.1.1.1"),
                  signin(3, 30, "US", "20.1.1.2")),
        risky=None,
        methods=(AuthMethod(id="p", type="password"),
                 AuthMethod(id="m1", type="microsoftAuthenticator", created=NOW - timedelta(days=200))),
        graph_rules=(InboxRule(id="g1", name="Newsletters", enabled=True, source="graph",
                               move_to_folder="AAMkNewsletters"),),
        exchange_rules=(InboxRule(id="alice\\1", name="Newsletters", enabled=True, source="exchange",
                                  move_to_folder="alice@contoso.com:\\Newsletters"),
                        InboxRule(id="alice\\0", name="Junk E-mail Rule", enabled=True, source="exchange")),
        mailbox=mailbox,
        mailbox_permissions=(MailboxPermission(identity="alice", user="NT AUTHORITY\\SELF",
                                               access_rights=("FullAccess", "ReadPermission")),),
        recipient_permissions=(RecipientPermission(identity="alice", trustee="NT AUTHORITY\\SELF",
                                                   access_rights=("SendAs",)),),
        blocked_senders=(), org_config=OrganizationConfig(audit_disabled=False),
        bypass=AuditBypass(identity="alice", bypass_enabled=False), roles=(),
        grants=(OAuthGrant(id="o0", client_id="sp0", client_display_name="Microsoft Teams",
                           client_app_id="1fec8e78-bce4-4aaf-ab1b-5451cc387264", consent_type="Principal",
                           principal_id="a1", resource_id="r", scopes=("Mail.Read", "offline_access")),),
    )


def compromised_reads() -> Reads:
    base = clean_reads()
    return replace(
        base,
        sign_ins=(*base.sign_ins, signin(4, 20, "RU", "203.0.113.66"), signin(5, 10, "RU", "203.0.113.66", "IMAP4")),
        risky=RiskyUser(id="a1", user_principal_name="alice@contoso.com", risk_level="high", risk_state="atRisk"),
        methods=(*base.methods, AuthMethod(id="m2", type="microsoftAuthenticator", display_name="Pixel 7",
                                           created=NOW - timedelta(minutes=5))),
        graph_rules=(*base.graph_rules,
                     InboxRule(id="g2", name="fwd", enabled=True, source="graph", forward_to=("drop@evil.example",)),
                     InboxRule(id="g3", name="inv", enabled=True, source="graph", delete=True,
                               keywords=("invoice",))),
        exchange_rules=(*base.exchange_rules,
                        InboxRule(id="alice\\9", name=".", enabled=True, source="exchange",
                                  move_to_folder="RSS Feeds")),
        mailbox=replace(base.mailbox, forwarding_smtp_address="smtp:exfil@evil.example", audit_enabled=False),
        # AuditEnabled False means nothing under default auditing; the account's audit bypass does.
        bypass=AuditBypass(identity="alice", bypass_enabled=True),
        mailbox_permissions=(*base.mailbox_permissions,
                             MailboxPermission(identity="alice", user="mallory@contoso.com",
                                               access_rights=("FullAccess",))),
        recipient_permissions=(*base.recipient_permissions,
                               RecipientPermission(identity="alice", trustee="mallory@contoso.com",
                                                   access_rights=("SendAs",))),
        blocked_senders=(BlockedSender(sender_address="alice@contoso.com", reason="OutboundSpam"),),
        grants=(*base.grants, OAuthGrant(id="o1", client_id="sp1", client_display_name="Mail Helper Pro",
                                         client_app_id="9999", consent_type="Principal", principal_id="a1",
                                         resource_id="r", scopes=("Mail.ReadWrite", "offline_access"))),
    )


def kinds(reads: Reads) -> set[FindingKind]:
    return {f.kind for f in assess(reads).findings}


def test_clean_account_has_nothing_above_low() -> None:
    result = assess(clean_reads())
    assert [f for f in result.findings if f.severity.rank > Severity.LOW.rank] == []
    assert result.recommended_actions == ()


def test_compromised_account_has_every_kind_but_admin_and_disabled() -> None:
    expected = set(FindingKind) - {FindingKind.ADMIN_ROLE, FindingKind.ACCOUNT_DISABLED, FindingKind.NO_MFA}
    assert kinds(compromised_reads()) == expected


def test_findings_are_ranked_and_actions_ordered_without_duplicates() -> None:
    result = assess(compromised_reads())
    ranks = [f.severity.rank for f in result.findings]
    assert ranks == sorted(ranks, reverse=True)
    recommended = result.recommended_actions
    assert recommended[:2] == (ActionId.RESET_PASSWORD, ActionId.REVOKE_SESSIONS)
    assert len(set(recommended)) == len(recommended)
    assert recommended[-1] == ActionId.UNBLOCK_SENDER  # lifted last, once the account is secured
    assert {ActionId.DISABLE_INBOX_RULES, ActionId.REMOVE_FORWARDING, ActionId.REMOVE_DELEGATES, ActionId.RESET_MFA,
            ActionId.CONFIRM_COMPROMISED, ActionId.ENABLE_MAILBOX_AUDIT, ActionId.REVOKE_OAUTH_GRANTS,
            ActionId.DISABLE_LEGACY_PROTOCOLS} <= set(recommended)


def test_impossible_travel_names_the_attacker_ip_and_legacy_protocol() -> None:
    f = next(f for f in assess(compromised_reads()).findings if f.kind is FindingKind.SUSPICIOUS_SIGNIN)
    assert f.severity is Severity.HIGH
    assert f.details["attackerIps"] == ["203.0.113.66"]
    assert f.details["legacyProtocols"] == ["IMAP4"]
    assert ActionId.DISABLE_LEGACY_PROTOCOLS in f.actions
    assert any("US" in line and "RU" in line for line in f.evidence)


def test_two_countries_a_day_apart_is_not_impossible_travel() -> None:
    reads = replace(clean_reads(), sign_ins=(signin(1, 3000, "US", "20.1.1.1"), signin(2, 1500, "FR", "80.1.1.1")))
    assert FindingKind.SUSPICIOUS_SIGNIN not in kinds(reads)


def test_failed_sign_ins_are_not_suspicious_successes() -> None:
    reads = replace(clean_reads(), sign_ins=(signin(1, 20, "US", "20.1.1.1"),
                                             signin(2, 10, "RU", "1.2.3.4", "IMAP4", error=50126)))
    assert FindingKind.SUSPICIOUS_SIGNIN not in kinds(reads)


def test_method_registered_after_first_suspicious_sign_in_is_high() -> None:
    f = next(f for f in assess(compromised_reads()).findings if f.kind is FindingKind.MFA_METHOD_ADDED)
    assert f.severity is Severity.HIGH
    assert f.details["methods"] == [{"id": "m2", "type": "microsoftAuthenticator"}]


def test_method_from_attacker_ip_counts_even_when_old() -> None:
    # No method type has an IP (and phone methods no date): both come from the directory audit log's
    # "User registered security info" event (changed deliberately from a raw ipAddress on the method).
    reads = compromised_reads()
    old = AuthMethod(id="m3", type="phone", raw={"phoneType": "mobile"})
    event = MethodRegistration(at=NOW - timedelta(days=90), method_type="phone", phone_type="mobile",
                               ip_address="203.0.113.66", detail="User registered Mobile Phone SMS")
    reads = replace(reads, methods=(AuthMethod(id="p", type="password"), old), registrations=(event,))
    f = next(f for f in assess(reads).findings if f.kind is FindingKind.MFA_METHOD_ADDED)
    assert "attacker" in f.evidence[0]


def test_password_only_is_no_mfa() -> None:
    reads = replace(clean_reads(), methods=(AuthMethod(id="p", type="password"),))
    assert FindingKind.NO_MFA in kinds(reads)


def test_hidden_rule_is_reported_once_with_its_exchange_identity() -> None:
    hidden = [f for f in assess(compromised_reads()).findings if f.kind is FindingKind.INBOX_RULE_HIDDEN]
    assert len(hidden) == 1
    assert hidden[0].details["exchangeIdentity"] == "alice\\9"
    assert hidden[0].details["hidden"] is True


def test_internal_forwarding_rule_is_not_a_forward_finding() -> None:
    reads = replace(clean_reads(), graph_rules=(InboxRule(id="g", name="to boss", enabled=True, source="graph",
                                                          forward_to=("boss@contoso.com",)),))
    assert FindingKind.INBOX_RULE_FORWARD not in kinds(reads)


def test_disabled_rules_are_ignored() -> None:
    reads = replace(clean_reads(), graph_rules=(InboxRule(id="g", name="fwd", enabled=False, source="graph",
                                                          forward_to=("x@evil.example",)),))
    assert FindingKind.INBOX_RULE_FORWARD not in kinds(reads)


def test_audit_off_at_org_level_or_bypass_is_reported() -> None:
    assert FindingKind.MAILBOX_AUDIT_OFF in kinds(replace(clean_reads(),
                                                          org_config=OrganizationConfig(audit_disabled=True)))
    assert FindingKind.MAILBOX_AUDIT_OFF in kinds(replace(clean_reads(),
                                                          bypass=AuditBypass(identity="a", bypass_enabled=True)))


def test_first_party_app_consent_is_not_a_finding() -> None:
    assert FindingKind.OAUTH_GRANT not in kinds(clean_reads())


def test_admin_role_without_compromise_is_low_and_not_recommended() -> None:
    carol = UserRef(id="c1", user_principal_name="carol@contoso.com", display_name="Carol")
    reads = replace(clean_reads(carol), roles=(DirectoryRole(id="r1", display_name="Global Administrator"),))
    result = assess(reads)
    role = next(f for f in result.findings if f.kind is FindingKind.ADMIN_ROLE)
    assert role.severity is Severity.LOW
    assert ActionId.REMOVE_ADMIN_ROLES not in result.recommended_actions


def test_admin_role_on_a_compromised_account_is_high() -> None:
    reads = replace(compromised_reads(), roles=(DirectoryRole(id="r1", display_name="Global Administrator"),))
    result = assess(reads)
    assert next(f for f in result.findings if f.kind is FindingKind.ADMIN_ROLE).severity is Severity.HIGH
    assert ActionId.REMOVE_ADMIN_ROLES in result.recommended_actions


def test_disabled_account_is_info() -> None:
    reads = replace(clean_reads(), user=replace(ALICE, account_enabled=False))
    f = next(f for f in assess(reads).findings if f.kind is FindingKind.ACCOUNT_DISABLED)
    assert f.severity is Severity.INFO


def test_unread_sources_produce_no_findings() -> None:
    assert assess(Reads(user=ALICE, now=NOW)).findings == ()
