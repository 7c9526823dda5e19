"""A finding names exactly what it flagged; a grant's sentence follows its scopes; the incident card's
title and colour follow the findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cards.incident import CLEAN_TITLE, COMPROMISE_TITLE, headline
from services.findings.rules import KNOWN_APP_IDS, flagged_methods, grant_findings, grant_sentence
from services.tenant.models import AuthMethod, MethodRegistration, OAuthGrant
from services.vocabulary import Finding, FindingKind, Severity
from tests.services.findings.test_findings import clean_reads, compromised_reads

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def _grant(scopes: str, gid: str = "g-1") -> OAuthGrant:
    return OAuthGrant(id=gid, client_id="sp-1", client_display_name="QuickSend", client_app_id="app-x",
                      consent_type="Principal", principal_id="u-1", resource_id="graph", scopes=tuple(scopes.split()))


@pytest.mark.parametrize(("scopes", "says", "never"), [
    ("Mail.Send", "can send mail as this account", "read"),
    ("Mail.Read", "can read this mailbox", "send"),
    ("Mail.ReadWrite offline_access", "can read and change this mailbox's mail", "send"),
    ("full_access_as_user Mail.Read", "has full access to this mailbox", "can read this mailbox"),
    ("Mail.Read Mail.Send", "can read this mailbox and can send mail as this account", "full"),
])
def test_a_grant_is_described_by_what_its_scopes_allow(scopes: str, says: str, never: str) -> None:
    sentence = grant_sentence("QuickSend", tuple(scopes.split()))
    assert says in sentence and never not in sentence.replace(says, "")


def test_offline_access_is_said_and_the_grant_is_targeted_by_id() -> None:
    [finding] = grant_findings((_grant("Mail.Read offline_access", "g-7"),), KNOWN_APP_IDS)
    assert finding.targets == ("g-7",) and finding.severity is Severity.HIGH
    assert any("offline_access keeps it working after a password reset" in e for e in finding.evidence)


def test_every_identity_finding_of_a_compromised_account_names_its_objects() -> None:
    from services.findings.rules import assess

    found = assess(compromised_reads()).findings
    for f in found:
        if f.kind in (FindingKind.RISKY_USER, FindingKind.SUSPICIOUS_SIGNIN, FindingKind.MFA_METHOD_ADDED,
                      FindingKind.OAUTH_GRANT, FindingKind.ADMIN_ROLE):
            assert f.targets, f.kind


def test_a_recent_method_without_suspicious_sign_ins_is_flagged_by_the_same_rule_the_action_uses() -> None:
    phone = AuthMethod(id="ph-1", type="phone", raw={"phoneType": "mobile"})
    old = AuthMethod(id="au-1", type="microsoftAuthenticator", created=NOW - timedelta(days=400))
    event = MethodRegistration(at=NOW - timedelta(days=2), method_type="phone", phone_type="mobile",
                               ip_address="203.0.113.5")
    assert flagged_methods((phone, old), sign_ins=(), registrations=(event,), now=NOW) == ("ph-1",)


def _finding(severity: Severity) -> Finding:
    return Finding(FindingKind.ADMIN_ROLE, severity, "x")


def test_the_incident_title_follows_the_findings() -> None:
    assert headline([]) == (CLEAN_TITLE, "Good")
    assert headline([_finding(Severity.LOW)]) == (CLEAN_TITLE, "Good")  # an admin with nothing else
    assert headline([_finding(Severity.LOW), _finding(Severity.HIGH)]) == (COMPROMISE_TITLE, "Attention")
    assert headline([_finding(Severity.MEDIUM)])[1] == "Warning"


def test_a_guest_gets_no_no_mfa_finding() -> None:
    from dataclasses import replace

    from services.findings.rules import assess
    from services.vocabulary import UserRef

    guest = UserRef(id="g", user_principal_name="p_contoso.com#EXT#@fabrikam.onmicrosoft.com", display_name="P")
    reads = replace(clean_reads(guest), methods=(AuthMethod(id="pw", type="password"),))
    assert FindingKind.NO_MFA not in {f.kind for f in assess(reads).findings}
