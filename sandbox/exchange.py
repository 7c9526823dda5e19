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
    anchor = request.headers.get("X-AnchorMailbox", "")
    if anchor.lower() not in {f"app:{SYSTEM_MAILBOX}@{n}".lower() for n in server.state.tenant_names()}:
        raise ExoError(400, "InvalidAnchorMailboxException", "The X-AnchorMailbox header is missing or invalid; it "
                       f"must be APP:{SYSTEM_MAILBOX}@<tenant id or domain>.")
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
    if cmd is None:
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
