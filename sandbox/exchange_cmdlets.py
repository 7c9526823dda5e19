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
        "ForwardingAddress": mb["forwardingAddress"], "DeliverToMailboxAndForward": mb["deliverToMailboxAndForward"],
        "GrantSendOnBehalfTo": list(mb["grantSendOnBehalfTo"]), "AuditEnabled": mb["auditEnabled"],
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
        if target not in (None, ""):
            recipient = ctx.state.find_recipient(str(target))
            if recipient is None:
                raise ctx.not_found(str(target))
            target = recipient["userPrincipalName"]
        changes["forwardingAddress"] = target or None
    for name, key in (("DeliverToMailboxAndForward", "deliverToMailboxAndForward"), ("AuditEnabled", "auditEnabled")):
        value = _bool(p, name)
        if value is not None:
            changes[key] = value
    if "GrantSendOnBehalfTo" in p:
        changes["grantSendOnBehalfTo"] = _multivalue(ctx, mb["grantSendOnBehalfTo"], p["GrantSendOnBehalfTo"])
    mb.update(changes)
    _audit(ctx, user, "Set-Mailbox", p)
    return [], [], user["id"]


def _multivalue(ctx: Ctx, current: list[str], value: Any) -> list[str]:
    """PowerShell multi-valued syntax: null clears, a list replaces, {"Add": [...], "Remove": [...]} edits."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [_recipient_name(ctx, v) for v in value]
    if isinstance(value, dict):
        lowered = {k.lower(): v for k, v in value.items()}
        result = list(current)
        for v in _as_list(lowered.get("add")):
            name = _recipient_name(ctx, v)
            if name not in result:
                result.append(name)
        for v in _as_list(lowered.get("remove")):
            name = _recipient_name(ctx, v)
            result = [r for r in result if r.lower() != name.lower()]
        return result
    raise ExoError(400, "ParameterBindingArgumentTransformationException", "Cannot process argument transformation "
                   "on parameter 'GrantSendOnBehalfTo'.")


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _recipient_name(ctx: Ctx, value: Any) -> str:
    user = ctx.state.find_recipient(str(value))
    if user is None:
        raise ctx.not_found(str(value))
    return str(user["userPrincipalName"])


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
