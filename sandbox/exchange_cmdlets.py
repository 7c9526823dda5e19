"""The Exchange Online cmdlets the sandbox answers through InvokeCommand, over the same state the Graph
routes use. Parameter names are case-insensitive as in PowerShell; unknown ones are refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.errors import ExoError
from sandbox.fixture import iso
from sandbox.state import TenantState

Result = tuple[list[dict[str, Any]], list[str], str | None]  # objects, warnings, write target
Impl = Callable[["Ctx", dict[str, Any]], Result]
_COMMON = ("Confirm", "ErrorAction", "WarningAction", "Verbose", "Debug")


@dataclass
class Ctx:
    state: TenantState
    client_ip: str
    now: Any

    @property
    def server_name(self) -> str:
        return str(self.state.tenant.get("exchangeServer", "BN8PR04MB6211.namprd04.prod.outlook.com"))

    def not_found(self, identity: str) -> ExoError:
        return ExoError(404, "ManagementObjectNotFoundException", f"The operation couldn't be performed because "
                        f"object '{identity}' couldn't be found on '{self.server_name}'.")

    def user(self, identity: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if not isinstance(identity, str) or not identity.strip():
            raise ExoError(400, "ParameterBindingValidationException", "Cannot validate argument on parameter "
                           "'Identity'. The argument is null or empty.")
        user = self.state.find_recipient(identity)
        mailbox = self.state.mailbox(user["id"]) if user else None
        if user is None or mailbox is None:
            raise self.not_found(identity)
        return user, mailbox


@dataclass(frozen=True)
class Cmdlet:
    name: str
    params: tuple[str, ...]
    impl: Impl
    write: bool = False
    required: tuple[str, ...] = ()


CMDLETS: dict[str, Cmdlet] = {}


def cmdlet(name: str, params: tuple[str, ...], *, write: bool = False,
           required: tuple[str, ...] = ()) -> Callable[[Impl], Impl]:
    def register(fn: Impl) -> Impl:
        CMDLETS[name.lower()] = Cmdlet(name, (*params, *_COMMON), fn, write, required)
        return fn

    return register


def bind(c: Cmdlet, raw: dict[str, Any]) -> dict[str, Any]:
    """Map the caller's parameter names onto the cmdlet's, as PowerShell does (case-insensitive)."""
    names = {p.lower(): p for p in c.params}
    bound: dict[str, Any] = {}
    for key, value in raw.items():
        canonical = names.get(key.lower())
        if canonical is None:
            raise ExoError(400, "ParameterBindingException", f"A parameter cannot be found that matches parameter "
                           f"name '{key}'.")
        bound[canonical] = value
    for req in c.required:
        if bound.get(req) in (None, ""):
            raise ExoError(400, "ParameterBindingException", f"Cannot process command because of one or more "
                           f"missing mandatory parameters: {req}.")
    return bound


def contacts(state: TenantState) -> list[dict[str, Any]]:
    """Mail contacts and mail users: recipients with an external address and no mailbox here."""
    found: list[dict[str, Any]] = state.data.setdefault("mailContacts", [])
    return found


def recipient(ctx: Ctx, identity: Any) -> dict[str, Any] | None:
    """Get-Recipient's view of an identity (name, alias, address, display name, object id or GUID): a
    mailbox, a mail contact or a mail user; None when Exchange knows no such recipient."""
    key = str(identity or "").strip()
    if key.lower().startswith("smtp:"):
        key = key[5:]
    low = key.lower()
    if not low:
        return None
    user = ctx.state.find_recipient(key)
    mb = ctx.state.mailbox(user["id"]) if user else None
    if user is not None and mb is not None:
        address = user.get("mail") or user["userPrincipalName"]
        return {"Identity": mb["alias"], "Name": mb["alias"], "Alias": mb["alias"], "DisplayName": user["displayName"],
                "RecipientType": "UserMailbox", "RecipientTypeDetails": "UserMailbox",
                "PrimarySmtpAddress": address, "ExternalEmailAddress": None, "EmailAddresses": [f"SMTP:{address}"],
                "ExternalDirectoryObjectId": user["id"], "Guid": mb["guid"]}
    for c in contacts(ctx.state):
        names = {str(c.get(k) or "").lower() for k in ("id", "name", "alias", "displayName", "externalEmailAddress")}
        if low in names:
            kind = c.get("recipientTypeDetails", "MailContact")
            external = c["externalEmailAddress"]
            return {"Identity": c["name"], "Name": c["name"], "Alias": c.get("alias") or c["name"],
                    "DisplayName": c.get("displayName") or c["name"],
                    "RecipientType": "MailUser" if kind == "MailUser" else "MailContact", "RecipientTypeDetails": kind,
                    "PrimarySmtpAddress": external, "ExternalEmailAddress": f"SMTP:{external}",
                    "EmailAddresses": [f"SMTP:{external}"], "ExternalDirectoryObjectId": c.get("id"),
                    "Guid": c.get("guid") or c.get("id")}
    return None


def recipient_name(ctx: Ctx, identity: Any) -> str:
    """The Name Exchange stores for a recipient-valued property (ForwardingAddress, GrantSendOnBehalfTo)."""
    found = recipient(ctx, identity)
    if found is None:
        raise ctx.not_found(str(identity))
    return str(found["Name"])


def _shown(ctx: Ctx, stored: Any) -> str | None:
    """How Get-Mailbox shows a stored recipient reference: the recipient's Name (not an address)."""
    if not stored:
        return None
    found = recipient(ctx, stored)
    return str(found["Name"]) if found else str(stored)


def _bool(params: dict[str, Any], name: str) -> bool | None:
    if name not in params:
        return None
    value = params[name]
    if not isinstance(value, bool):
        raise ExoError(400, "ParameterBindingArgumentTransformationException", f"Cannot process argument "
                       f"transformation on parameter '{name}'. Cannot convert value \"{value}\" to type "
                       "\"System.Boolean\".")
    return value


def _smtp(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    address = text[5:] if text.lower().startswith("smtp:") else text
    if "@" not in address or " " in address:
        raise ExoError(400, "ParameterBindingArgumentTransformationException", f"Cannot process argument "
                       f"transformation on parameter '{name}'. \"{text}\" isn't a valid SMTP address.")
    return address


def mailbox_view(ctx: Ctx, user: dict[str, Any], mb: dict[str, Any]) -> dict[str, Any]:
    upn = user["userPrincipalName"]
    return {
        "Identity": mb["alias"], "Name": mb["alias"], "DisplayName": user["displayName"], "Alias": mb["alias"],
        "UserPrincipalName": upn, "PrimarySmtpAddress": user.get("mail") or upn, "WindowsEmailAddress": upn,
        "ExternalDirectoryObjectId": user["id"], "Guid": mb["guid"], "ExchangeGuid": mb["guid"],
        "RecipientType": "UserMailbox", "RecipientTypeDetails": "UserMailbox",
        "EmailAddresses": [f"SMTP:{user.get('mail') or upn}"],
        "ForwardingSmtpAddress": f"smtp:{mb['forwardingSmtpAddress']}" if mb["forwardingSmtpAddress"] else None,
        "ForwardingAddress": _shown(ctx, mb["forwardingAddress"]),
        "DeliverToMailboxAndForward": mb["deliverToMailboxAndForward"],
        "GrantSendOnBehalfTo": [_shown(ctx, v) for v in mb["grantSendOnBehalfTo"]], "AuditEnabled": mb["auditEnabled"],
        "AuditLogAgeLimit": "90.00:00:00", "AccountDisabled": not user.get("accountEnabled", True),
        "IsMailboxEnabled": True, "WhenCreated": user.get("createdDateTime"),
    }


@cmdlet("Get-Mailbox", ("Identity", "ResultSize", "RecipientTypeDetails", "Filter"))
def get_mailbox(ctx: Ctx, p: dict[str, Any]) -> Result:
    if "Filter" in p:
        raise ExoError(400, "InvalidOperationException", "The -Filter parameter isn't supported by this sandbox.")
    if p.get("Identity") is not None:
        user, mb = ctx.user(p["Identity"])
        return [mailbox_view(ctx, user, mb)], [], None
    out = [mailbox_view(ctx, u, ctx.state.mailbox(u["id"])) for u in ctx.state.users  # type: ignore[arg-type]
           if ctx.state.mailbox(u["id"])]
    return out, [], None


def _audit(ctx: Ctx, user: dict[str, Any], cmdlet_name: str, params: dict[str, Any]) -> None:
    ctx.state.add_audit(user, cmdlet_name, "exchangeAdmin", ctx.client_ip,
                        {k: v for k, v in params.items() if k not in _COMMON})


@cmdlet("Set-Mailbox", ("Identity", "ForwardingSmtpAddress", "ForwardingAddress", "DeliverToMailboxAndForward",
                        "AuditEnabled", "GrantSendOnBehalfTo"), write=True, required=("Identity",))
def set_mailbox(ctx: Ctx, p: dict[str, Any]) -> Result:
    user, mb = ctx.user(p["Identity"])
    changes: dict[str, Any] = {}
    if "ForwardingSmtpAddress" in p:
        changes["forwardingSmtpAddress"] = _smtp(p["ForwardingSmtpAddress"], "ForwardingSmtpAddress")
    if "ForwardingAddress" in p:
        target = p["ForwardingAddress"]
        changes["forwardingAddress"] = recipient_name(ctx, target) if target not in (None, "") else None
    for name, key in (("DeliverToMailboxAndForward", "deliverToMailboxAndForward"), ("AuditEnabled", "auditEnabled")):
        value = _bool(p, name)
        if value is not None:
            changes[key] = value
    if "GrantSendOnBehalfTo" in p:
        changes["grantSendOnBehalfTo"] = _multivalue(ctx, mb["grantSendOnBehalfTo"], p["GrantSendOnBehalfTo"])
    mb.update(changes)
    _audit(ctx, user, "Set-Mailbox", p)
    return [], [], user["id"]


GENERIC_HASHTABLE = "#Exchange.GenericHashTable"


def _multivalue(ctx: Ctx, current: list[str], value: Any, name: str = "GrantSendOnBehalfTo") -> list[str]:
    """A multi-valued recipient parameter over InvokeCommand: null clears, a list replaces, and an edit is a
    hashtable typed `{"@odata.type": "#Exchange.GenericHashTable", "Add": [...], "Remove": [...]}`. A bare
    JSON object is a dictionary the binder cannot convert, as Exchange answers."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [recipient_name(ctx, v) for v in value]
    if isinstance(value, dict) and value.get("@odata.type") == GENERIC_HASHTABLE:
        lowered = {k.lower(): v for k, v in value.items() if k != "@odata.type"}
        unknown = set(lowered) - {"add", "remove"}
        if unknown:
            raise ExoError(400, "ParameterBindingArgumentTransformationException", f"Cannot process argument "
                           f"transformation on parameter '{name}'. The hashtable key '{sorted(unknown)[0]}' isn't "
                           "valid; use Add or Remove.")
        result = list(current)
        for v in _as_list(lowered.get("add")):
            entry = recipient_name(ctx, v)
            if entry.lower() not in (r.lower() for r in result):
                result.append(entry)
        for v in _as_list(lowered.get("remove")):
            entry = recipient_name(ctx, v)
            result = [r for r in result if _shown(ctx, r) is None or str(_shown(ctx, r)).lower() != entry.lower()]
        return result
    raise ExoError(400, "ParameterBindingArgumentTransformationException", f"Cannot process argument transformation "
                   f"on parameter '{name}'. Cannot convert the \"System.Collections.Generic.Dictionary`2"
                   "[System.String,System.Object]\" value of type \"System.Collections.Generic.Dictionary`2\" to "
                   "type \"Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Configuration.Tasks."
                   "ModernGroupMembersOrRecipientIdParameter]\".")


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


@cmdlet("Get-Recipient", ("Identity", "ResultSize", "RecipientTypeDetails"))
def get_recipient(ctx: Ctx, p: dict[str, Any]) -> Result:
    if p.get("Identity") is not None:
        found = recipient(ctx, p["Identity"])
        if found is None:
            raise ctx.not_found(str(p["Identity"]))
        return [found], [], None
    out = [recipient(ctx, u["id"]) for u in ctx.state.users if ctx.state.mailbox(u["id"])]
    out += [recipient(ctx, c["name"]) for c in contacts(ctx.state)]
    return [r for r in out if r is not None], [], None


@cmdlet("Get-CASMailbox", ("Identity", "ResultSize"))
def get_cas(ctx: Ctx, p: dict[str, Any]) -> Result:
    users = [ctx.user(p["Identity"])] if p.get("Identity") is not None else [
        (u, ctx.state.mailbox(u["id"])) for u in ctx.state.users if ctx.state.mailbox(u["id"])]
    out = []
    for user, mb in users:
        cas = mb["cas"]  # type: ignore[index]
        out.append({"Identity": mb["alias"], "Name": mb["alias"], "PrimarySmtpAddress": user["userPrincipalName"],  # type: ignore[index]
                    "ExternalDirectoryObjectId": user["id"], "ImapEnabled": cas["imapEnabled"],
                    "PopEnabled": cas["popEnabled"], "EwsEnabled": cas["ewsEnabled"],
                    "ActiveSyncEnabled": cas["activeSyncEnabled"], "MAPIEnabled": cas["mapiEnabled"],
                    "OWAEnabled": cas["owaEnabled"],
                    "SmtpClientAuthenticationDisabled": cas["smtpClientAuthenticationDisabled"]})
    return out, [], None


_CAS = {"ImapEnabled": "imapEnabled", "PopEnabled": "popEnabled", "EwsEnabled": "ewsEnabled",
        "ActiveSyncEnabled": "activeSyncEnabled", "MAPIEnabled": "mapiEnabled", "OWAEnabled": "owaEnabled",
        "SmtpClientAuthenticationDisabled": "smtpClientAuthenticationDisabled"}


@cmdlet("Set-CASMailbox", ("Identity", *_CAS), write=True, required=("Identity",))
def set_cas(ctx: Ctx, p: dict[str, Any]) -> Result:
    user, mb = ctx.user(p["Identity"])
    changes = {key: _bool(p, name) for name, key in _CAS.items() if name in p}
    mb["cas"].update(changes)
    _audit(ctx, user, "Set-CASMailbox", p)
    return [], [], user["id"]


@cmdlet("Get-OrganizationConfig", ())
def get_org(ctx: Ctx, p: dict[str, Any]) -> Result:
    t = ctx.state.tenant
    cfg = ctx.state.data["organizationConfig"]
    return [{"Identity": t["defaultDomain"], "Name": t["defaultDomain"], "DisplayName": t["displayName"],
             "Guid": t["id"], **cfg}], [], None


@cmdlet("Get-MailboxAuditBypassAssociation", ("Identity", "ResultSize"))
def get_bypass(ctx: Ctx, p: dict[str, Any]) -> Result:
    pairs = [ctx.user(p["Identity"])] if p.get("Identity") is not None else [
        (u, ctx.state.mailbox(u["id"])) for u in ctx.state.users if ctx.state.mailbox(u["id"])]
    return [{"Identity": mb["alias"], "Name": mb["alias"], "AuditBypassEnabled": mb["auditBypassEnabled"]}  # type: ignore[index]
            for _, mb in pairs], [], None


@cmdlet("Set-MailboxAuditBypassAssociation", ("Identity", "AuditBypassEnabled"), write=True,
        required=("Identity", "AuditBypassEnabled"))
def set_bypass(ctx: Ctx, p: dict[str, Any]) -> Result:
    user, mb = ctx.user(p["Identity"])
    mb["auditBypassEnabled"] = _bool(p, "AuditBypassEnabled")
    _audit(ctx, user, "Set-MailboxAuditBypassAssociation", p)
    return [], [], user["id"]


@cmdlet("Get-BlockedSenderAddress", ("SenderAddress",))
def get_blocked(ctx: Ctx, p: dict[str, Any]) -> Result:
    entries = ctx.state.data["blockedSenders"]
    if p.get("SenderAddress"):
        entries = [e for e in entries if e["SenderAddress"].lower() == str(p["SenderAddress"]).lower()]
    return [dict(e) for e in entries], [], None


@cmdlet("Remove-BlockedSenderAddress", ("SenderAddress", "Reason"), write=True, required=("SenderAddress",))
def remove_blocked(ctx: Ctx, p: dict[str, Any]) -> Result:
    entries = ctx.state.data["blockedSenders"]
    address = str(p["SenderAddress"]).lower()
    match = [e for e in entries if e["SenderAddress"].lower() == address]
    if not match:
        raise ctx.not_found(str(p["SenderAddress"]))
    for e in match:
        entries.remove(e)
    user = ctx.state.find_recipient(address)
    if user:
        _audit(ctx, user, "Remove-BlockedSenderAddress", p)
    return [], [], address


def now_iso(ctx: Ctx) -> str:
    return iso(ctx.now)
