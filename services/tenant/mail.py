"""Mailbox operations: inbox rules through Graph, and the Exchange Online cmdlets for what Graph
cannot see or change (hidden rules, forwarding, delegates, blocked senders, audit, protocols).

Each read returns plain data (services.tenant.models); each write returns the request id.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from msgraph.generated.models.message_rule import MessageRule

from services.tenant.base import TenantBase, config, request_id
from services.tenant.errors import NotFoundError
from services.tenant.models import (
    AuditBypass,
    BlockedSender,
    CasMailbox,
    InboxRule,
    Mailbox,
    MailboxPermission,
    OrganizationConfig,
    Recipient,
    RecipientPermission,
)

RULES_READ = "MailboxSettings.Read"
RULES_WRITE = "MailboxSettings.ReadWrite"
_ADDRESS = re.compile(r"[A-Za-z0-9._%+'\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# CAS protocol switches Set-CASMailbox understands, by the name disable_legacy_protocols uses.
# Over InvokeCommand a multi-valued edit ({Add, Remove}) is a hashtable only when typed so; a bare JSON object
# is a dictionary Exchange's parameter binder refuses.
GENERIC_HASHTABLE = "#Exchange.GenericHashTable"
JUNK_RULE = "junk e-mail rule"
OOF_RULE_PREFIX = "microsoft.exchange.oof."
CAS_SWITCHES = {"imap": "ImapEnabled", "pop": "PopEnabled", "ews": "EwsEnabled", "activesync": "ActiveSyncEnabled",
                "mapi": "MAPIEnabled", "owa": "OWAEnabled"}


def addresses(value: Any) -> tuple[str, ...]:
    """Email addresses in whatever shape a service returns them: Graph recipients, EXO strings like
    `"Eve" [SMTP:eve@example.net]` or `smtp:eve@example.net`, lists of either."""
    if value is None:
        return ()
    if isinstance(value, dict):
        email = value.get("emailAddress", value)
        return addresses(email.get("address") if isinstance(email, dict) else email)
    if isinstance(value, list | tuple):
        out: list[str] = []
        for item in value:
            out.extend(a for a in addresses(item) if a not in out)
        return tuple(out)
    return tuple(dict.fromkeys(m.lower() for m in _ADDRESS.findall(str(value))))


def is_system_rule(name: str) -> bool:
    """Exchange's own inbox rules: the junk mail rule and the automatic-reply rules `Microsoft.Exchange.OOF.*`
    (Get-InboxRule -IncludeHidden lists them; they are not the user's and not an attacker's)."""
    low = name.strip().lower()
    return low == JUNK_RULE or low.startswith(OOF_RULE_PREFIX)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if v is not None and str(v) != "")
    return (str(value),) if str(value) else ()


def _bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def graph_rule(raw: dict[str, Any]) -> InboxRule:
    actions = raw.get("actions") or {}
    conditions = raw.get("conditions") or {}
    keywords = tuple(conditions.get("subjectContains") or ()) + tuple(conditions.get("bodyContains") or ()) \
        + tuple(conditions.get("bodyOrSubjectContains") or ())
    return InboxRule(
        id=str(raw.get("id") or ""), name=str(raw.get("displayName") or ""), enabled=bool(raw.get("isEnabled", True)),
        source="graph", forward_to=addresses(actions.get("forwardTo")),
        redirect_to=addresses(actions.get("redirectTo")),
        forward_as_attachment_to=addresses(actions.get("forwardAsAttachmentTo")),
        delete=bool(actions.get("delete") or actions.get("permanentDelete")),
        move_to_folder=actions.get("moveToFolder"), keywords=keywords, raw=raw)


def exchange_rule(row: dict[str, Any]) -> InboxRule:
    keywords = _strings(row.get("SubjectContainsWords")) + _strings(row.get("SubjectOrBodyContainsWords")) \
        + _strings(row.get("BodyContainsWords"))
    return InboxRule(
        id=str(row.get("Identity") or row.get("RuleIdentity") or ""), name=str(row.get("Name") or ""),
        enabled=bool(_bool(row.get("Enabled"))), source="exchange",
        forward_to=addresses(row.get("ForwardTo")), redirect_to=addresses(row.get("RedirectTo")),
        forward_as_attachment_to=addresses(row.get("ForwardAsAttachmentTo")),
        delete=bool(_bool(row.get("DeleteMessage")) or _bool(row.get("SoftDeleteMessage"))),
        move_to_folder=(str(row["MoveToFolder"]) if row.get("MoveToFolder") else None), keywords=keywords,
        hidden=bool(_bool(row.get("IsHidden")) or _bool(row.get("Hidden"))), raw=row,
        system=is_system_rule(str(row.get("Name") or "")))


class MailOps(TenantBase):
    # ---- inbox rules through Graph ------------------------------------------------------------
    def _rules(self, user_id: str) -> Any:
        return self.graph.users.by_user_id(user_id).mail_folders.by_mail_folder_id("inbox").message_rules

    async def list_inbox_rules(self, *, user_id: str) -> list[InboxRule]:
        items = await self._list_json("GET /users/{id}/mailFolders/inbox/messageRules", RULES_READ,
                                      self._rules(user_id))
        return [graph_rule(r) for r in items]

    async def set_inbox_rule_enabled(self, *, user_id: str, rule_id: str, enabled: bool) -> str | None:
        cfg = config()
        await self._graph_call("PATCH /users/{id}/mailFolders/inbox/messageRules/{id}", RULES_WRITE,
                               self._rules(user_id).by_message_rule_id(rule_id).patch(MessageRule(is_enabled=enabled),
                                                                                      cfg))
        return request_id(cfg)

    async def delete_inbox_rule(self, *, user_id: str, rule_id: str) -> str | None:
        cfg = config()
        await self._graph_call("DELETE /users/{id}/mailFolders/inbox/messageRules/{id}", RULES_WRITE,
                               self._rules(user_id).by_message_rule_id(rule_id).delete(cfg))
        return request_id(cfg)

    # ---- inbox rules through Exchange (the only way to see hidden ones) -----------------------
    async def list_inbox_rules_exchange(self, *, mailbox: str, include_hidden: bool = True) -> list[InboxRule]:
        params: dict[str, Any] = {"Mailbox": mailbox}
        if include_hidden:
            params["IncludeHidden"] = True
        return [exchange_rule(r) for r in await self.exchange.invoke("Get-InboxRule", params, mailbox=mailbox)]

    async def disable_inbox_rule_exchange(self, *, mailbox: str, identity: str) -> str | None:
        result = await self.exchange.call("Disable-InboxRule", {"Mailbox": mailbox, "Identity": identity,
                                                               "Confirm": False}, mailbox=mailbox)
        return result.request_id

    async def enable_inbox_rule_exchange(self, *, mailbox: str, identity: str) -> str | None:
        result = await self.exchange.call("Enable-InboxRule", {"Mailbox": mailbox, "Identity": identity,
                                                               "Confirm": False}, mailbox=mailbox)
        return result.request_id

    async def remove_inbox_rule_exchange(self, *, mailbox: str, identity: str) -> str | None:
        result = await self.exchange.call("Remove-InboxRule", {"Mailbox": mailbox, "Identity": identity,
                                                               "Confirm": False}, mailbox=mailbox)
        return result.request_id

    # ---- mailbox: forwarding, audit, send-on-behalf ------------------------------------------
    async def get_mailbox(self, *, mailbox: str) -> Mailbox | None:
        """Get-Mailbox, with ForwardingAddress and GrantSendOnBehalfTo (recipient identities: names, aliases,
        ids) resolved with Get-Recipient, so a contact's or mail user's external address is known."""
        rows = await self.exchange.invoke("Get-Mailbox", {"Identity": mailbox}, mailbox=mailbox)
        if not rows:
            return None
        row = rows[0]
        forwarding = str(row["ForwardingAddress"]) if row.get("ForwardingAddress") else None
        behalf = _strings(row.get("GrantSendOnBehalfTo"))
        resolved = await asyncio.gather(*(self.get_recipient(identity=i) for i in (forwarding, *behalf) if i))
        return Mailbox(
            identity=str(row.get("Identity") or mailbox), user_principal_name=row.get("UserPrincipalName"),
            forwarding_smtp_address=row.get("ForwardingSmtpAddress") or None,
            forwarding_address=forwarding,
            deliver_to_mailbox_and_forward=bool(_bool(row.get("DeliverToMailboxAndForward"))),
            audit_enabled=_bool(row.get("AuditEnabled")),
            grant_send_on_behalf_to=behalf, raw=row,
            forwarding_recipient=resolved[0] if forwarding else None,
            send_on_behalf=tuple(resolved[1:] if forwarding else resolved))

    async def get_recipient(self, *, identity: str) -> Recipient:
        """Get-Recipient: what kind of recipient an identity is and where its mail goes. An identity
        Exchange no longer knows comes back unresolved (kind None) rather than failing the read."""
        try:
            rows = await self.exchange.invoke("Get-Recipient", {"Identity": identity})
        except NotFoundError:
            rows = []
        if not rows:
            return Recipient(identity=identity)
        r = rows[0]
        external = addresses(r.get("ExternalEmailAddress"))
        primary = addresses(r.get("PrimarySmtpAddress"))
        return Recipient(identity=identity, kind=str(r.get("RecipientTypeDetails") or r.get("RecipientType") or "")
                         or None, address=(external or primary or (None,))[0],
                         display_name=r.get("DisplayName") or r.get("Name"))

    async def set_mailbox(self, *, mailbox: str, **settings: Any) -> str | None:
        """Set-Mailbox with Exchange's own parameter names, e.g. ForwardingSmtpAddress=None,
        DeliverToMailboxAndForward=False, GrantSendOnBehalfTo={"@odata.type": GENERIC_HASHTABLE, "remove": [...]}."""
        if not settings:
            raise ValueError("Set-Mailbox needs at least one setting.")
        result = await self.exchange.call("Set-Mailbox", {"Identity": mailbox, **settings}, mailbox=mailbox)
        return result.request_id

    async def clear_forwarding(self, *, mailbox: str) -> str | None:
        return await self.set_mailbox(mailbox=mailbox, ForwardingSmtpAddress=None, ForwardingAddress=None,
                                      DeliverToMailboxAndForward=False)

    async def remove_send_on_behalf(self, *, mailbox: str, principals: list[str]) -> str | None:
        return await self.set_mailbox(mailbox=mailbox, GrantSendOnBehalfTo={"@odata.type": GENERIC_HASHTABLE,
                                                                           "remove": list(principals)})

    # ---- delegates -----------------------------------------------------------------------------
    async def list_mailbox_permissions(self, *, mailbox: str) -> list[MailboxPermission]:
        rows = await self.exchange.invoke("Get-MailboxPermission", {"Identity": mailbox}, mailbox=mailbox)
        return [MailboxPermission(identity=str(r.get("Identity") or mailbox), user=str(r.get("User") or ""),
                                  access_rights=_strings(r.get("AccessRights")),
                                  is_inherited=bool(_bool(r.get("IsInherited"))), deny=bool(_bool(r.get("Deny"))))
                for r in rows]

    async def remove_mailbox_permission(self, *, mailbox: str, user: str, access_rights: list[str]) -> str | None:
        result = await self.exchange.call("Remove-MailboxPermission", {
            "Identity": mailbox, "User": user, "AccessRights": list(access_rights), "Confirm": False}, mailbox=mailbox)
        return result.request_id

    async def list_recipient_permissions(self, *, mailbox: str) -> list[RecipientPermission]:
        rows = await self.exchange.invoke("Get-RecipientPermission", {"Identity": mailbox}, mailbox=mailbox)
        return [RecipientPermission(identity=str(r.get("Identity") or mailbox), trustee=str(r.get("Trustee") or ""),
                                    access_rights=_strings(r.get("AccessRights")),
                                    is_inherited=bool(_bool(r.get("IsInherited"))))
                for r in rows]

    async def remove_recipient_permission(self, *, mailbox: str, trustee: str, access_rights: list[str]
                                          ) -> str | None:
        result = await self.exchange.call("Remove-RecipientPermission", {
            "Identity": mailbox, "Trustee": trustee, "AccessRights": list(access_rights), "Confirm": False},
            mailbox=mailbox)
        return result.request_id

    # ---- restricted senders ------------------------------------------------------------------
    async def list_blocked_senders(self, *, sender_address: str | None = None) -> list[BlockedSender]:
        params = {"SenderAddress": sender_address} if sender_address else {}
        rows = await self.exchange.invoke("Get-BlockedSenderAddress", params)
        return [BlockedSender(sender_address=str(r.get("SenderAddress") or "").lower(), reason=r.get("Reason"),
                              created=None) for r in rows if r.get("SenderAddress")]

    async def remove_blocked_sender(self, *, sender_address: str) -> str | None:
        result = await self.exchange.call("Remove-BlockedSenderAddress", {"SenderAddress": sender_address})
        return result.request_id

    # ---- audit configuration -----------------------------------------------------------------
    async def get_organization_config(self) -> OrganizationConfig:
        rows = await self.exchange.invoke("Get-OrganizationConfig", {})
        row = rows[0] if rows else {}
        return OrganizationConfig(audit_disabled=bool(_bool(row.get("AuditDisabled"))), raw=row)

    async def get_audit_bypass(self, *, mailbox: str) -> AuditBypass | None:
        rows = await self.exchange.invoke("Get-MailboxAuditBypassAssociation", {"Identity": mailbox}, mailbox=mailbox)
        if not rows:
            return None
        return AuditBypass(identity=str(rows[0].get("Identity") or mailbox),
                           bypass_enabled=bool(_bool(rows[0].get("AuditBypassEnabled"))))

    async def set_audit_bypass(self, *, mailbox: str, enabled: bool) -> str | None:
        """Set-MailboxAuditBypassAssociation: with False the account's mailbox actions are audited again."""
        result = await self.exchange.call("Set-MailboxAuditBypassAssociation",
                                          {"Identity": mailbox, "AuditBypassEnabled": enabled}, mailbox=mailbox)
        return result.request_id

    # ---- client access protocols ---------------------------------------------------------------
    async def get_cas_mailbox(self, *, mailbox: str) -> CasMailbox | None:
        rows = await self.exchange.invoke("Get-CASMailbox", {"Identity": mailbox}, mailbox=mailbox)
        if not rows:
            return None
        r = rows[0]
        return CasMailbox(identity=str(r.get("Identity") or mailbox), imap_enabled=_bool(r.get("ImapEnabled")),
                          pop_enabled=_bool(r.get("PopEnabled")), ews_enabled=_bool(r.get("EwsEnabled")),
                          activesync_enabled=_bool(r.get("ActiveSyncEnabled")),
                          mapi_enabled=_bool(r.get("MAPIEnabled")),
                          owa_enabled=_bool(r.get("OWAEnabled")),
                          smtp_client_authentication_disabled=_bool(r.get("SmtpClientAuthenticationDisabled")), raw=r)

    async def set_cas_mailbox(self, *, mailbox: str, **protocols: bool) -> str | None:
        """Set-CASMailbox by short protocol names: imap=False, pop=False, ews=False, activesync=False."""
        unknown = set(protocols) - set(CAS_SWITCHES)
        if unknown or not protocols:
            got = ", ".join(sorted(unknown)) or "none"
            raise ValueError(f"Set-CASMailbox takes {', '.join(CAS_SWITCHES)}; got {got}.")
        params: dict[str, Any] = {"Identity": mailbox}
        params.update({CAS_SWITCHES[name]: value for name, value in protocols.items()})
        result = await self.exchange.call("Set-CASMailbox", params, mailbox=mailbox)
        return result.request_id
