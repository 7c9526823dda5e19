"""Mailbox findings: inbox rules, forwarding, delegates, the restricted-senders list, auditing.
Pure functions over the reads (see services.findings.rules)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.tenant.mail import addresses, is_system_rule
from services.tenant.models import InboxRule, Mailbox, MailboxPermission, Recipient, RecipientPermission
from services.vocabulary import ActionId, Finding, FindingKind, Severity

if TYPE_CHECKING:
    from services.findings.rules import Reads

# Folders attackers hide mail in so the victim never sees replies or warnings.
HIDING_FOLDERS = ("deleted items", "deleteditems", "rss feeds", "rss subscriptions", "rssfeeds", "junk email",
                  "junkemail", "conversation history", "archive")
BAIT_WORDS = ("invoice", "payment", "password", "wire", "transfer", "bank", "remittance", "purchase order",
              "hacked", "compromised", "phish", "security", "mfa", "verify", "helpdesk", "it support", "payroll")
DEFAULT_PRINCIPALS = ("nt authority\\self", "s-1-5-", "nt authority\\system")
# Finding.targets of mailbox_audit_off: what enable_mailbox_audit can change (the account's bypass) and what
# only an organisation-wide change can (AuditDisabled).
AUDIT_BYPASS = "auditBypass"
ORG_AUDIT_DISABLED = "organizationAuditDisabled"


def rule_key(rule: InboxRule, twin: InboxRule | None, hidden: bool) -> str:
    """How a flagged rule is named in Finding.targets and addressed by disable_inbox_rules: its Graph id when
    Graph can change it, else its Exchange identity."""
    if rule.source == "graph" and not hidden:
        return f"graph:{rule.id}"
    return f"exchange:{(twin or rule).id}"


def forwarding_targets(mb: Mailbox) -> tuple[str, ...]:
    """Finding.targets of mailbox_forwarding: the forwarding SMTP address and the forwarding recipient."""
    out = [f"smtp:{a}" for a in addresses(mb.forwarding_smtp_address)]
    if mb.forwarding_address:
        out.append(f"recipient:{mb.forwarding_address}")
    return tuple(out)


def delegate_key(kind: str, principal: str) -> str:
    """Finding.targets of mailbox_delegate: `<kind>:<identity>` (mailbox = FullAccess, recipient = SendAs,
    sendOnBehalf)."""
    return f"{kind}:{principal}"


def is_external(address: str, domains: tuple[str, ...]) -> bool:
    """True when the address is outside every verified domain (and its subdomains). With no domains
    known every address counts as external: better a question on the card than a missed forward."""
    domain = address.rsplit("@", 1)[-1].lower()
    return not any(domain == d.lower() or domain.endswith("." + d.lower()) for d in domains)


def _hiding_folder(rule: InboxRule) -> str | None:
    folder = (rule.move_to_folder or "").strip()
    low = folder.lower()
    return folder if folder and any(name in low for name in HIDING_FOLDERS) else None


def _merge(graph: tuple[InboxRule, ...] | None, exchange: tuple[InboxRule, ...] | None
           ) -> list[tuple[InboxRule, InboxRule | None, bool]]:
    """(rule, its Exchange twin, hidden) for every rule. Graph does not list hidden rules, so an
    Exchange rule without a Graph twin of the same name is hidden (system rules aside)."""
    by_name = {r.name.lower(): r for r in exchange or ()}
    out: list[tuple[InboxRule, InboxRule | None, bool]] = []
    seen: set[str] = set()
    for r in graph or ():
        out.append((r, by_name.get(r.name.lower()), False))
        seen.add(r.name.lower())
    for r in exchange or ():
        # Exchange's own rules (junk mail, automatic replies) are hidden from Graph by design.
        if r.name.lower() in seen or r.system or is_system_rule(r.name):
            continue
        hidden = r.hidden or graph is not None
        out.append((r, r, hidden))
    return out


def _rule_details(rule: InboxRule, twin: InboxRule | None, hidden: bool) -> dict[str, object]:
    return {"ruleId": rule.id if rule.source == "graph" else None, "name": rule.name, "hidden": hidden,
            "exchangeIdentity": twin.id if twin else None, "source": rule.source, "rule": rule.raw}


def rule_findings(graph: tuple[InboxRule, ...] | None, exchange: tuple[InboxRule, ...] | None, *,
                  domains: tuple[str, ...]) -> list[Finding]:
    out: list[Finding] = []
    for rule, twin, hidden in _merge(graph, exchange):
        if not rule.enabled:
            continue
        # Graph reports folders by id; Exchange's twin names them.
        folder = _hiding_folder(rule) or (_hiding_folder(twin) if twin else None)
        external = [a for a in rule.forwards_to if is_external(a, domains)]
        bait = [w for w in BAIT_WORDS if any(w in k.lower() for k in rule.keywords)]
        what = []
        if rule.forwards_to:
            what.append(f"forwards to {', '.join(rule.forwards_to)}")
        if rule.delete:
            what.append("deletes")
        if folder:
            what.append(f"moves to {folder}")
        if bait:
            what.append(f"mail mentioning {', '.join(bait)}")
        evidence = (f"Rule \"{rule.name}\" {' '.join(what) or 'acts on incoming mail'}.",)
        details = _rule_details(rule, twin, hidden)
        targets = (rule_key(rule, twin, hidden),)
        if hidden:
            out.append(Finding(FindingKind.INBOX_RULE_HIDDEN, Severity.HIGH, f"Hidden inbox rule \"{rule.name}\"",
                               evidence=(*evidence, "Outlook and Graph cannot see it; only Exchange lists it."),
                               actions=(ActionId.DISABLE_INBOX_RULES,), details=details, targets=targets))
            continue
        if external:
            out.append(Finding(FindingKind.INBOX_RULE_FORWARD, Severity.HIGH,
                               f"Inbox rule \"{rule.name}\" forwards mail outside the organisation",
                               evidence=evidence, actions=(ActionId.DISABLE_INBOX_RULES,),
                               details={**details, "externalAddresses": external}, targets=targets))
        if rule.delete or folder:
            severity = Severity.HIGH if bait or folder else Severity.MEDIUM
            out.append(Finding(FindingKind.INBOX_RULE_DELETE, severity,
                               f"Inbox rule \"{rule.name}\" hides incoming mail", evidence=evidence,
                               actions=(ActionId.DISABLE_INBOX_RULES,), details=details, targets=targets))
    return out


def _leaves(recipient: Recipient | None, domains: tuple[str, ...]) -> str | None:
    """The external address mail to `recipient` ends at: a mail contact or mail user outside the tenant's
    domains. None for a mailbox here, an internal contact, or an identity Exchange could not resolve."""
    if recipient is None or not recipient.is_external_kind or not recipient.address:
        return None
    return recipient.address if is_external(recipient.address, domains) else None


def _recipient_words(recipient: Recipient | None, identity: str, domains: tuple[str, ...]) -> str:
    if recipient is None or recipient.kind is None:
        return f"{identity} (Exchange could not resolve this recipient)"
    leaves = _leaves(recipient, domains)
    if leaves:
        kind = "mail user" if recipient.kind == "MailUser" else "mail contact"
        return f"{identity}, a {kind} whose mail goes to {leaves} outside the organisation"
    return identity


def forwarding_finding(mb: Mailbox, *, domains: tuple[str, ...]) -> Finding | None:
    smtp = addresses(mb.forwarding_smtp_address)
    external = [a for a in smtp if is_external(a, domains)]
    leaves = _leaves(mb.forwarding_recipient, domains) if mb.forwarding_address else None
    if leaves:
        external.append(leaves)
    if not (external or mb.forwarding_address):
        return None
    where = list(smtp)
    if mb.forwarding_address:
        where.append(_recipient_words(mb.forwarding_recipient, mb.forwarding_address, domains))
    target = ", ".join(where)
    title_target = ", ".join([*smtp, *([mb.forwarding_address] if mb.forwarding_address else [])])
    keep = " and keeps a copy" if mb.deliver_to_mailbox_and_forward else " and keeps no copy"
    # Mail that ends outside the organisation is HIGH whichever way it gets there (SMTP address, contact, mail user).
    return Finding(FindingKind.MAILBOX_FORWARDING, Severity.HIGH if external else Severity.MEDIUM,
                   f"Mailbox forwards all mail to {title_target}",
                   evidence=(f"Mailbox forwarding is set to {target}{keep}.",),
                   actions=(ActionId.REMOVE_FORWARDING,),
                   details={"forwardingSmtpAddress": mb.forwarding_smtp_address,
                            "forwardingAddress": mb.forwarding_address,
                            "externalAddresses": external,
                            "deliverToMailboxAndForward": mb.deliver_to_mailbox_and_forward},
                   targets=forwarding_targets(mb))


def audit_finding(reads: Reads) -> Finding | None:
    """Mailbox auditing is on by default (every tenant since 2019), and then a mailbox's AuditEnabled stays
    False and means nothing. A mailbox is not audited when the organisation turned auditing off
    (AuditDisabled) or the account bypasses it (its audit-bypass association)."""
    lines: list[str] = []
    targets: list[str] = []
    org_off = reads.org_config is not None and reads.org_config.audit_disabled
    bypass = reads.bypass is not None and reads.bypass.bypass_enabled
    if bypass:
        lines.append("The account bypasses mailbox audit logging (audit-bypass association).")
        targets.append(AUDIT_BYPASS)
    if org_off:
        lines.append("Mailbox auditing is off for the whole organisation (AuditDisabled).")
        targets.append(ORG_AUDIT_DISABLED)
    if not lines:
        return None
    mb = reads.mailbox
    return Finding(FindingKind.MAILBOX_AUDIT_OFF, Severity.MEDIUM, "Mailbox audit logging is off",
                   evidence=tuple(lines), actions=(ActionId.ENABLE_MAILBOX_AUDIT,),
                   details={"mailboxAuditEnabled": mb.audit_enabled if mb else None, "orgAuditDisabled": org_off,
                            "bypass": bypass},
                   targets=tuple(targets))


def mailbox_findings(reads: Reads, *, domains: tuple[str, ...]) -> list[Finding]:
    out: list[Finding] = []
    mb = reads.mailbox
    forwarding = forwarding_finding(mb, domains=domains) if mb is not None else None
    if forwarding:
        out.append(forwarding)
    audit = audit_finding(reads)
    if audit:
        out.append(audit)
    own = {a.lower() for a in (reads.user.user_principal_name, reads.user.mail or "") if a}
    if mb is not None and mb.user_principal_name:
        own.add(mb.user_principal_name.lower())
    blocked = [b for b in reads.blocked_senders or () if b.sender_address.lower() in own]
    if blocked:
        out.append(Finding(FindingKind.BLOCKED_SENDER, Severity.HIGH, "Blocked from sending mail",
                           evidence=(f"{blocked[0].sender_address} is on the restricted senders list: Microsoft "
                                     "saw it send spam. Lift the block only after the password reset.",),
                           actions=(ActionId.UNBLOCK_SENDER,),
                           details={"senderAddresses": [b.sender_address for b in blocked],
                                    "reasons": [b.reason for b in blocked]},
                           targets=tuple(b.sender_address for b in blocked)))
    return out


def _is_default(principal: str) -> bool:
    low = principal.lower()
    return not low or any(low.startswith(p) for p in DEFAULT_PRINCIPALS)


def delegate_findings(mailbox_perms: tuple[MailboxPermission, ...] | None,
                      recipient_perms: tuple[RecipientPermission, ...] | None, mailbox: Mailbox | None, *,
                      domains: tuple[str, ...]) -> list[Finding]:
    grants: list[dict[str, object]] = []
    lines: list[str] = []
    external = False
    for p in mailbox_perms or ():
        if p.is_inherited or p.deny or _is_default(p.user):
            continue
        grants.append({"kind": "mailbox", "principal": p.user, "accessRights": list(p.access_rights)})
        lines.append(f"{p.user} has {', '.join(p.access_rights)} on the mailbox.")
        external = external or ("@" in p.user and is_external(p.user, domains))
    for r in recipient_perms or ():
        if r.is_inherited or _is_default(r.trustee):
            continue
        grants.append({"kind": "recipient", "principal": r.trustee, "accessRights": list(r.access_rights)})
        lines.append(f"{r.trustee} has {', '.join(r.access_rights)} on this mailbox.")
        external = external or ("@" in r.trustee and is_external(r.trustee, domains))
    resolved = {r.identity: r for r in (mailbox.send_on_behalf if mailbox else ())}
    for who in (mailbox.grant_send_on_behalf_to if mailbox else ()):
        recipient = resolved.get(who)
        grants.append({"kind": "sendOnBehalf", "principal": who, "accessRights": ["SendOnBehalf"],
                       "address": recipient.address if recipient else None})
        lines.append(f"{_recipient_words(recipient, who, domains)} can send on behalf of this mailbox.")
        external = external or bool(_leaves(recipient, domains)) \
            or ("@" in who and is_external(who, domains))
    if not grants:
        return []
    return [Finding(FindingKind.MAILBOX_DELEGATE, Severity.HIGH if external else Severity.MEDIUM,
                    "Someone else has access to this mailbox" if len(grants) == 1
                    else f"{len(grants)} delegate permissions on this mailbox",
                    evidence=tuple(lines), actions=(ActionId.REMOVE_DELEGATES,), details={"delegates": grants},
                    targets=tuple(delegate_key(str(g["kind"]), str(g["principal"])) for g in grants))]
