"""Exchange Online's `POST /adminapi/beta/{tenantId}/InvokeCommand`, as the ExchangeOnlineManagement
v3 module calls it: app-only token for outlook.office365.com with Exchange.ManageAsApp, the
X-AnchorMailbox header, `{"CmdletInput": {"CmdletName", "Parameters"}}`, results in `value`, paging
by POSTing the same body to `@odata.nextLink`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox import exchange_rules  # noqa: F401 - registers the inbox rule and delegate cmdlets
from sandbox.auth import EXCHANGE_AUDIENCE
from sandbox.errors import ExoError
from sandbox.exchange_cmdlets import CMDLETS, Ctx, bind
from sandbox.odata import decode_skiptoken, encode_skiptoken
from sandbox.routing import REQUEST_ID, SERVER

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"


# Exchange management roles the sandbox knows, with the cmdlets of each that it answers. Entra's Exchange
# Administrator role holds them all; Exchange Recipient Administrator holds the recipient ones.
ROLE_CMDLETS: dict[str, frozenset[str]] = {
    "Mail Recipients": frozenset({
        "Get-Mailbox", "Set-Mailbox", "Get-CASMailbox", "Set-CASMailbox", "Get-InboxRule", "Disable-InboxRule",
        "Enable-InboxRule", "Remove-InboxRule", "Get-MailboxPermission", "Remove-MailboxPermission",
        "Get-RecipientPermission", "Remove-RecipientPermission", "Get-Recipient", "Get-MailContact"}),
    "View-Only Recipients": frozenset({"Get-Mailbox", "Get-CASMailbox", "Get-InboxRule", "Get-MailboxPermission",
                                       "Get-RecipientPermission", "Get-Recipient", "Get-MailContact"}),
    "Transport Hygiene": frozenset({"Get-BlockedSenderAddress", "Remove-BlockedSenderAddress"}),
    "View-Only Configuration": frozenset({"Get-OrganizationConfig"}),
    "Organization Configuration": frozenset({"Get-OrganizationConfig"}),
    "Audit Logs": frozenset({"Get-MailboxAuditBypassAssociation", "Set-MailboxAuditBypassAssociation"}),
    "View-Only Audit Logs": frozenset({"Get-MailboxAuditBypassAssociation"}),
}
ENTRA_ROLES: dict[str, tuple[str, ...]] = {
    "Exchange Administrator": tuple(ROLE_CMDLETS),
    "Exchange Recipient Administrator": ("Mail Recipients",),
}


def app_roles(app: dict[str, Any] | None) -> set[str]:
    """The Exchange management roles an app holds: assigned to its service principal in Exchange, or
    through an Entra role."""
    if app is None:
        return set()
    roles = set(app.get("exchangeRoles", []))
    for entra in app.get("directoryRoles", []):
        roles.update(ENTRA_ROLES.get(entra, ()))
    return roles


def cmdlet_allowed(cmdlet: str, roles: set[str]) -> bool:
    return any(cmdlet in ROLE_CMDLETS.get(role, ()) for role in roles)


def check_anchor(anchor: str, tenant_names: set[str]) -> str | None:
    """None when Exchange accepts the X-AnchorMailbox header, else its sentence. Accepted: the
    organisation's system mailbox `APP:SystemMailbox{...}@<tenant id or domain>`, or a mailbox as
    `UPN:<address>` / `SMTP:<address>` in one of the tenant's domains."""
    prefix, _, rest = anchor.partition(":")
    kind = prefix.upper()
    if kind == "APP":
        ok = rest.lower() in {f"{SYSTEM_MAILBOX}@{n}".lower() for n in tenant_names}
    elif kind in ("UPN", "SMTP"):
        local, _, domain = rest.rpartition("@")
        ok = bool(local) and " " not in rest and domain.lower() in tenant_names
    else:
        ok = False
    if ok:
        return None
    return ("The X-AnchorMailbox header is missing or invalid; it must be APP:" + SYSTEM_MAILBOX
            + "@<tenant id or domain>, or UPN:/SMTP: followed by a mailbox address in the organisation.")


def cmdlet_name(body: bytes) -> str:
    """The cmdlet a request asks for, for route labels and fault rules ("?" if the body is unreadable)."""
    try:
        data = json.loads(body or b"{}")
        name = data["CmdletInput"]["CmdletName"]
    except (ValueError, KeyError, TypeError):
        return "?"
    found = CMDLETS.get(str(name).lower())
    return found.name if found else str(name)


async def invoke_command(request: web.Request) -> web.Response:
    server: SandboxServer = request.app[SERVER]
    tenant = request.match_info["tenant"]
    claims, reason = server.authority.verify(request.headers.get("Authorization"), EXCHANGE_AUDIENCE)
    if claims is None:
        raise ExoError(401, "UnauthorizedAccessException", reason)
    if tenant.lower() not in server.state.tenant_names():
        raise ExoError(404, "TenantNotFoundException", f"The tenant '{tenant}' could not be found.")
    if "Exchange.ManageAsApp" not in server.authority.permissions(claims):
        raise ExoError(403, "UnauthorizedAccessException", "The role assigned to application "
                       f"{claims.get('appid')} isn't supported in this scenario. Check the Exchange.ManageAsApp "
                       "permission and the app's Exchange role assignment.")
    anchor_error = check_anchor(request.headers.get("X-AnchorMailbox", ""), server.state.tenant_names())
    if anchor_error:
        raise ExoError(400, "InvalidAnchorMailboxException", anchor_error)
    try:
        data = json.loads(await request.read() or b"null")
        cmd_input = data["CmdletInput"]
        name = cmd_input["CmdletName"]
        params = cmd_input.get("Parameters") or {}
        if not isinstance(name, str) or not isinstance(params, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ExoError(400, "InvalidRequestException", "The request body must be "
                       "{\"CmdletInput\": {\"CmdletName\": ..., \"Parameters\": {...}}}.") from None
    cmd = CMDLETS.get(name.lower())
    # Exchange builds the app's session from its management roles: a cmdlet outside them does not exist there.
    if cmd is None or not cmdlet_allowed(cmd.name, app_roles(server.state.app(str(claims.get("appid"))))):
        raise ExoError(400, "CommandNotFoundException", f"The term '{name}' is not recognized as a name of a "
                       "cmdlet, function, script file, or executable program.")
    bound = bind(cmd, params)
    ctx = Ctx(state=server.state, client_ip=request.remote or "127.0.0.1", now=datetime.now(UTC))
    objects, warnings, target = cmd.impl(ctx, bound)
    if cmd.write and target is not None:
        server.record_write(method="POST", route=f"EXO {cmd.name}", target=target,
                            body={"CmdletInput": {"CmdletName": cmd.name, "Parameters": params}},
                            request_id=request[REQUEST_ID])
    size = int(server.state.options["exoPageSize"])
    offset = decode_skiptoken(request.query.get("$skiptoken"))
    base = f"http://{request.host}/adminapi/beta/{tenant}"
    body: dict[str, Any] = {"@odata.context": f"{base}/$metadata#Collection(Exchange.GenericHashTable)",
                            "adminapi.warnings@odata.type": "#Collection(String)", "@adminapi.warnings": warnings}
    if offset + size < len(objects):
        body["@odata.nextLink"] = f"{base}/InvokeCommand?$skiptoken={encode_skiptoken(offset + size)}"
    body["value"] = objects[offset:offset + size]
    return web.json_response(body)
