"""Realistic and hostile inputs for every card builder, and one place that renders them all.

``rendered()`` returns (name, card) pairs for every builder over every input set, so the schema,
renderer, id-only-data and size checks all cover the same cards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import cards
from cards.approval import AwaitingApproval
from cards.context import CardContext
from cards.views import (
    ActionLine,
    AlertView,
    AuditEvent,
    AuditEventsView,
    ContainmentView,
    LineState,
    MailboxAuditView,
    OpenFindingView,
    ScoreControl,
    SecureScoreView,
    SummaryData,
)
from services.vocabulary import (
    ActionId,
    Actor,
    Finding,
    FindingKind,
    Impact,
    Investigation,
    Severity,
    UserRef,
)

NOW = datetime(2025, 3, 4, 14, 2, tzinfo=UTC)
CARDS_NOW = NOW
A = ActionId
K = FindingKind

ALICE = UserRef(id="0b1c7e1a-1111-4c1e-9d0e-a11ce0000001", user_principal_name="alice@contoso.com",
                display_name="Alice Wilber", mail="alice@contoso.com")
BOB = UserRef(id="0b1c7e1a-2222-4c1e-9d0e-b0b000000002", user_principal_name="bob@contoso.com",
              display_name="Bob Kelly")
CAROL = UserRef(id="0b1c7e1a-3333-4c1e-9d0e-ca401000003", user_principal_name="carol@contoso.com",
                display_name="Carol Admin")
RESPONDER = Actor(id="aad-resp-1", name="Megan Bowen")
APPROVER = Actor(id="aad-resp-2", name="Nestor Wilke")

# Hostile text: markdown injection, RTL override, zero-width, emoji, and a 10 kB odd-unicode name.
INJECTION = "[click](http://evil.example/x) **urgent** <b>x</b> `code` # title _it_ ~~s~~ | a | \\"
RTL = "\u202eevil.exe\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627"
ZERO_WIDTH = "al\u200bice\ufeff\u2060\u200d"
EMOJI = "👩\u200d💻🔥🚨"
HUGE = ("Ẓ̴̢͎a̷l̵g̸o̶ 👩\u200d💻 \u202e[x](http://e) **b** ﷽ 𒐫 " * 400)[:10_000]
assert len(HUGE) == 10_000

HOSTILE = UserRef(id="0b1c7e1a-6666-4c1e-9d0e-e71100000006",
                  user_principal_name=f"{INJECTION}{ZERO_WIDTH}@contoso.com"[:300],
                  display_name=HUGE + RTL + EMOJI)


def alice_investigation() -> Investigation:
    f = Finding
    findings = (
        f(K.RISKY_USER, Severity.HIGH, "Identity Protection rates this user at high risk",
          ("Risk level high, state atRisk, last updated 2025-03-04 11:40 UTC.",), (A.CONFIRM_COMPROMISED,)),
        f(K.SUSPICIOUS_SIGNIN, Severity.HIGH, "Impossible travel",
          ("Signed in from NL (203.0.113.7) and NG (198.51.100.23) within 41 minutes.",
           "Legacy protocol IMAP4 sign-in from 198.51.100.23 at 2025-03-04 10:12 UTC.",
           "Sign-in rated high risk from 198.51.100.23 at 2025-03-04 10:13 UTC.",
           "Sign-in rated medium risk from 198.51.100.24 at 2025-03-04 10:20 UTC."),
          (A.REVOKE_SESSIONS, A.RESET_PASSWORD, A.DISABLE_LEGACY_PROTOCOLS)),
        f(K.INBOX_RULE_FORWARD, Severity.HIGH, "Inbox rule forwards mail outside the organisation",
          ("Rule 'fwd' forwards every message to drop@attacker.example.",), (A.DISABLE_INBOX_RULES,)),
        f(K.INBOX_RULE_DELETE, Severity.HIGH, "Inbox rule deletes mail mentioning 'invoice'",
          ("Rule '..' deletes messages whose subject or body contains 'invoice'.",), (A.DISABLE_INBOX_RULES,)),
        f(K.INBOX_RULE_HIDDEN, Severity.HIGH, "Hidden inbox rule moves mail to RSS Feeds",
          ("Rule ' ' is hidden from Outlook and moves every message to RSS Feeds.",), (A.DISABLE_INBOX_RULES,)),
        f(K.MAILBOX_FORWARDING, Severity.HIGH, "Mailbox forwards to an external address",
          ("ForwardingSmtpAddress smtp:collect@attacker.example, keeping a copy.",), (A.REMOVE_FORWARDING,)),
        f(K.MAILBOX_DELEGATE, Severity.MEDIUM, "Unknown account holds FullAccess and SendAs",
          ("FullAccess: mallory@partner.example", "SendAs: mallory@partner.example"), (A.REMOVE_DELEGATES,)),
        f(K.BLOCKED_SENDER, Severity.MEDIUM, "Blocked from sending for outbound spam",
          ("The account is on the Restricted entities list since 2025-03-04 10:50 UTC.",), (A.UNBLOCK_SENDER,)),
        f(K.MAILBOX_AUDIT_OFF, Severity.MEDIUM, "Mailbox auditing is off",
          ("AuditEnabled is false for this mailbox.",), (A.ENABLE_MAILBOX_AUDIT,)),
        f(K.MFA_METHOD_ADDED, Severity.HIGH, "Authenticator registered from the attacker's address",
          ("microsoftAuthenticator method Pixel 7 registered yesterday from 198.51.100.23.",), (A.RESET_MFA,)),
        f(K.OAUTH_GRANT, Severity.HIGH, "Consent to an unknown app with mail access",
          ("Delegated consent to MailSync Pro for Mail.ReadWrite, offline_access.",), (A.REVOKE_OAUTH_GRANTS,)),
    )
    recommended = (A.RESET_PASSWORD, A.REVOKE_SESSIONS, A.RESET_MFA, A.DISABLE_INBOX_RULES, A.REMOVE_FORWARDING,
                   A.REMOVE_DELEGATES, A.UNBLOCK_SENDER, A.ENABLE_MAILBOX_AUDIT, A.CONFIRM_COMPROMISED,
                   A.REVOKE_OAUTH_GRANTS, A.DISABLE_LEGACY_PROTOCOLS)
    return Investigation(user=ALICE, findings=findings, recommended_actions=recommended, risk_level="high",
                         risk_state="atRisk", investigated_at=NOW - timedelta(minutes=1))


def bob_investigation() -> Investigation:
    return Investigation(user=BOB, findings=(), recommended_actions=(), risk_level="none", investigated_at=NOW)


def carol_investigation() -> Investigation:
    admin = Finding(K.ADMIN_ROLE, Severity.LOW, "Holds a directory admin role",
                    ("Member of Global Administrator; every action on this account needs a second responder.",),
                    (A.REMOVE_ADMIN_ROLES,))
    return Investigation(user=CAROL, findings=(admin,), recommended_actions=(), is_admin=True, investigated_at=NOW,
                         gaps=("Sign-in logs could not be read: the tenant has no Entra ID P1 licence.",))


def hostile_investigation() -> Investigation:
    """Every tenant-controlled string is hostile, and there are far too many findings."""
    findings = tuple(
        Finding(K.INBOX_RULE_FORWARD, [Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO][i % 4],
                f"{INJECTION} {RTL} {HUGE}", evidence=tuple(f"{EMOJI}{HUGE}{j}" for j in range(6)),
                actions=(A.DISABLE_INBOX_RULES,))
        for i in range(40)
    )
    return Investigation(user=HOSTILE, findings=findings, recommended_actions=(A.DISABLE_INBOX_RULES,),
                         risk_level=HUGE, risk_state=INJECTION, is_admin=True,
                         gaps=tuple(f"{INJECTION} {HUGE}" for _ in range(20)), investigated_at=NOW)


def alerts(text: str = "") -> tuple[AlertView, ...]:
    return tuple(
        AlertView(source="Defender" if i % 2 else "Identity Protection", severity="high",
                  title=text or f"Suspicious inbox forwarding rule #{i}", at=NOW - timedelta(minutes=5 * i))
        for i in range(14 if text else 3)
    )


def lines(actor: Actor = RESPONDER, detail: str = "") -> tuple[ActionLine, ...]:
    L = LineState
    return (
        ActionLine(A.REVOKE_SESSIONS, L.SUCCEEDED, verified=True, requested_by=actor, at=NOW, request_id="req-1"),
        ActionLine(A.BLOCK_SIGNIN, L.SUCCEEDED, Impact.HIGH, verified=True, requested_by=actor,
                   approved_by=APPROVER, at=NOW, request_id="req-2"),
        ActionLine(A.DISABLE_INBOX_RULES, L.SUCCEEDED, verified=False, requested_by=actor, at=NOW,
                   request_id="req-3"),
        ActionLine(A.REMOVE_FORWARDING, L.FAILED, detail=detail or "Exchange Online refused the change: busy.",
                   requested_by=actor, at=NOW, request_id="req-4"),
        ActionLine(A.ENABLE_MAILBOX_AUDIT, L.SKIPPED, detail="Auditing was already on.", requested_by=actor),
        ActionLine(A.REMOVE_DELEGATES, L.PARTIAL, detail=detail or "The read-back still shows FullAccess of eve.",
                   requested_by=actor, at=NOW, request_id="req-5"),
        ActionLine(A.UNBLOCK_SENDER, L.REFUSED, Impact.HIGH,
                   detail="Refused until the password is reset and sessions are revoked.", requested_by=actor),
        ActionLine(A.RESET_MFA, L.RUNNING, requested_by=actor),
        ActionLine(A.RESET_PASSWORD, L.QUEUED, Impact.HIGH, requested_by=actor),
        ActionLine(A.REMOVE_ADMIN_ROLES, L.AWAITING_APPROVAL, Impact.HIGH, requested_by=actor),
        ActionLine(A.CONFIRM_COMPROMISED, L.EXPIRED, requested_by=actor),
        ActionLine(A.REVOKE_OAUTH_GRANTS, L.REJECTED, requested_by=actor),
    )


def score(text: str = "") -> SecureScoreView:
    controls = tuple(
        ScoreControl(title=text or t, points_available=p, status=s)
        for t, p, s in [("Require MFA for all users", 9.0, "Not started"),
                        ("Block legacy authentication", 8.0, "Planned"),
                        ("Turn on user risk policy", 7.0, "Not started"),
                        ("Turn on sign-in risk policy", 7.0, "Partially implemented"),
                        ("Ensure mailbox auditing is on", 0.0, "Completed")]
    ) * (4 if text else 1)
    return SecureScoreView(current=41.5, max=78.0, change_7d=2.0, change_30d=-3.5,
                           peers=(("AllTenants", 35.2), ("TotalSeats", 44.0), (text or "IndustryTypes", 52.9)),
                           controls=controls)


def containment(text: str = "") -> ContainmentView:
    """Partly contained: open findings to accept (20 with hostile titles)."""
    open_ = tuple(OpenFindingView(key=f"fnd_{i:012d}", title=text or title, severity="medium")
                  for i, title in enumerate(["No multifactor authentication method registered",
                                             "Mailbox audit logging is off"] * (10 if text else 1)))
    return ContainmentView(contained=False, sentence=f"Partly contained: {len(open_)} findings open.", open=open_)


def summary(text: str = "") -> SummaryData:
    events = AuditEventsView(
        counts=tuple((text or op, n) for op, n in [("MailItemsAccessed", 412), ("New-InboxRule", 3), ("Send", 57),
                                                   ("Set-Mailbox", 1), ("UpdateInboxRules", 2)]) * (5 if text else 1),
        notable=tuple(AuditEvent(NOW - timedelta(hours=i), "New-InboxRule", text or f"Rule 'fwd{i}' created from "
                                 "198.51.100.23") for i in range(30 if text else 3)),
        note=text,
    )
    return SummaryData(incident_id="inc-1", lines=lines(detail=text), gaps=(text,) if text else (),
                       mailbox_audit=MailboxAuditView(org_enabled=True, mailbox_enabled=False, bypass=None),
                       audit_events=events, secure_score=score(text), containment=containment(text))


def rendered(ctx: CardContext | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every builder over realistic, empty and hostile inputs."""
    ctx = ctx or CardContext(sandbox=True, auth_off=True, now=NOW, correlation_id="7f3a9c2e")
    out: list[tuple[str, dict[str, Any]]] = []
    for who, inv, extra in [("alice", alice_investigation(), alerts()), ("bob", bob_investigation(), ()),
                            ("carol", carol_investigation(), ()), ("hostile", hostile_investigation(), alerts(HUGE))]:
        user = inv.user
        text = HUGE if who == "hostile" else ""
        out.append((f"incident/{who}", cards.incident_card(ctx, incident_id="inc-1", investigation=inv,
                                                           alerts=extra)))
        out.append((f"incident-closed/{who}", cards.incident_card(ctx, incident_id="inc-1", investigation=inv,
                                                                  closed=True)))
        out.append((f"existing/{who}", cards.existing_incident_card(ctx, incident_id="inc-1", target=user,
                                                                    opened_at=NOW)))
        chosen = inv.recommended_actions or (A.REVOKE_SESSIONS,)
        out.append((f"confirm/{who}", cards.confirm_card(ctx, incident_id="inc-1", nonce="n-1", target=user,
                                                         actions=chosen, target_is_admin=inv.is_admin)))
        out.append((f"confirm-empty/{who}", cards.confirm_card(ctx, incident_id="inc-1", nonce="n-1", target=user,
                                                               actions=())))
        requester = Actor(id="aad-x", name=text or RESPONDER.name)
        out.append((f"awaiting/{who}", cards.awaiting_approval_card(
            ctx, batch_id="b-1", incident_id="inc-1", target=user, requested_by=requester,
            requested_at=NOW, reason=text or "Risky sign-ins from NG, user confirms not them",
            actions=(A.RESET_PASSWORD, A.BLOCK_SIGNIN), expires_at=NOW + timedelta(minutes=30))))
        out.append((f"running/{who}", cards.running_card(ctx, incident_id="inc-1", target=user,
                                                         lines=lines(requester, text), requested_by=requester,
                                                         started_at=NOW)))
        # The run under way while a high-impact batch waits for a second responder: both on one card.
        waiting = AwaitingApproval(batch_id="b-2", requested_by=requester, requested_at=NOW,
                                   reason=text or "Risky sign-ins from NG, user confirms not them",
                                   actions=(A.RESET_PASSWORD, A.BLOCK_SIGNIN, A.UNBLOCK_SENDER) * (5 if text else 1),
                                   expires_at=NOW + timedelta(minutes=30), target_is_admin=inv.is_admin)
        out.append((f"running-awaiting/{who}", cards.running_card(
            ctx, incident_id="inc-1", target=user, lines=lines(requester, text), requested_by=requester,
            started_at=NOW, awaiting=waiting)))
        out.append((f"done/{who}", cards.done_card(ctx, incident_id="inc-1", batch_id="b-1", target=user,
                                                   lines=lines(requester, text), finished_at=NOW)))
        out.append((f"done-partly/{who}", cards.done_card(
            ctx, incident_id="inc-1", batch_id="b-1", target=user, lines=lines(requester, text), finished_at=NOW,
            containment=containment(text))))
        out.append((f"done-contained/{who}", cards.done_card(
            ctx, incident_id="inc-1", batch_id="b-1", target=user, lines=lines(requester, text), finished_at=NOW,
            containment=ContainmentView(contained=True, sentence="Contained: every finding addressed."))))
        out.append((f"expired/{who}", cards.expired_card(ctx, incident_id="inc-1", target=user,
                                                         expired_at=NOW, actions=(A.RESET_PASSWORD,))))
        out.append((f"rejected/{who}", cards.rejected_card(ctx, incident_id="inc-1", target=user,
                                                           rejected_by=requester, rejected_at=NOW,
                                                           actions=(A.BLOCK_SIGNIN,))))
        out.append((f"summary/{who}", cards.summary_card(ctx, target=user, data=summary(text))))
        out.append((f"choice/{who}", cards.choice_card(ctx, query=text or "al", choice_id="c-1",
                                                       candidates=[ALICE, user, HOSTILE] * (5 if text else 1))))
        out.append((f"notice/{who}", cards.notice_card(ctx, text=text or "Only members of Contain Responders can "
                                                       "act on incidents.", tone="attention")))
    out.append(("summary/empty", cards.summary_card(ctx, target=BOB, data=SummaryData(incident_id="inc-2"))))
    out.append(("score", cards.score_card(ctx, score=score())))
    out.append(("score/zero", cards.score_card(ctx, score=SecureScoreView(current=0, max=0))))
    out.append(("score/full", cards.score_card(ctx, score=SecureScoreView(current=80, max=80))))
    out.append(("help", cards.help_card(ctx)))
    return out
