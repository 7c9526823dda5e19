"""Exchange Online cmdlets over the InvokeCommand REST endpoint.

UNDOCUMENTED ENDPOINT. Exchange Online has no documented REST API for Get-InboxRule -IncludeHidden,
Set-Mailbox, *-MailboxPermission, *-BlockedSenderAddress and friends. Microsoft's own
ExchangeOnlineManagement v3 module calls `POST {exchange}/adminapi/beta/{tenantId}/InvokeCommand`
with `{"CmdletInput": {"CmdletName": ..., "Parameters": {...}}}`; that is what this module does.
Microsoft may change it without notice, so it is isolated here: nothing else in Contain knows the
wire format, and a change means editing this file only.

What the module does as Exchange does: a cmdlet about one mailbox is anchored on it (`X-AnchorMailbox:
UPN:<mailbox>`, else the organisation's system mailbox); a failure's sentence is read from
`error.details[].message`, else `error.innererror.internalexception.message`, else `error.message`; a
cmdlet outside the app's Exchange roles is "not recognized", which becomes PermissionDenied naming the role.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from services.settings import TenantEndpoints
from services.tenant.auth import EXCHANGE_SCOPE, TokenSource
from services.tenant.errors import PermissionDenied, TenantError, build_error, from_transport_exception
from services.tenant.graph import POOL_LIMITS, TIMEOUT, tls_verify
from services.tenant.retry import RetryPolicy, send_with_retry

SERVICE = "Exchange Online"
ANCHOR_MAILBOX = "APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{tenant}"
PERMISSION = "Exchange.ManageAsApp and an Exchange role that allows {cmdlet}"
MAX_PAGES = 200  # a bound on nextLink chains, in case the service loops
# The Exchange management role that holds each cmdlet Contain runs (docs/permissions.md, "Exchange RBAC for
# the app"). Exchange builds the app's session from its roles: a cmdlet outside them is "not recognized".
CMDLET_ROLES: dict[str, str] = {
    **dict.fromkeys(("Get-Mailbox", "Set-Mailbox", "Get-CASMailbox", "Set-CASMailbox", "Get-InboxRule",
                     "Disable-InboxRule", "Enable-InboxRule", "Remove-InboxRule", "Get-MailboxPermission",
                     "Remove-MailboxPermission", "Get-RecipientPermission", "Remove-RecipientPermission",
                     "Get-Recipient"), "Mail Recipients"),
    **dict.fromkeys(("Get-BlockedSenderAddress", "Remove-BlockedSenderAddress"), "Transport Hygiene"),
    "Get-OrganizationConfig": "View-Only Configuration",
    **dict.fromkeys(("Get-MailboxAuditBypassAssociation", "Set-MailboxAuditBypassAssociation"), "Audit Logs"),
}
_NOT_RECOGNIZED = re.compile(r"is not recognized as (?:a|the) name of a cmdlet", re.IGNORECASE)


def role_for(cmdlet: str) -> str:
    return CMDLET_ROLES.get(cmdlet, "an Exchange role that holds " + cmdlet)


def anchor_for(mailbox: str | None, tenant: str) -> str:
    """X-AnchorMailbox: the target mailbox for a mailbox-scoped cmdlet (Exchange routes the call to the
    server that holds it), else the organisation's system mailbox."""
    if mailbox and "@" in mailbox and " " not in mailbox.strip():
        return f"UPN:{mailbox.strip()}"
    return ANCHOR_MAILBOX.format(tenant=tenant)


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    rows: list[dict[str, Any]]
    request_id: str | None


def _request_id(response: httpx.Response, body: Any) -> str | None:
    rid: str | None = response.headers.get("request-id") or response.headers.get("x-request-id")
    if rid:
        return rid
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            inner = error.get("innerError") or error.get("innererror") or {}
            if isinstance(inner, dict):
                return inner.get("request-id") or inner.get("requestId")
    return None


def _readable(message: Any) -> str | None:
    """`Ex6F9304|Microsoft.Exchange...ManagementObjectNotFoundException|The operation couldn't ...` -> the
    part after the last `|`."""
    if not message:
        return None
    text = str(message).split("|")[-1].strip()
    return text or None


def _key(mapping: dict[str, Any], name: str) -> Any:
    """A key of an Exchange error object, whatever its case (innererror / innerError, internalexception ...)."""
    return next((v for k, v in mapping.items() if k.lower() == name.lower()), None)


def _error_message(body: Any) -> tuple[str | None, str | None]:
    """(code, message): the cmdlet's own sentence from `error.details[].message`, else
    `error.innererror.internalexception.message` (where binder and lookup errors are), else `error.message`
    (often only "Error executing request")."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None, None
    error = body["error"]
    code = error.get("code")
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and _readable(detail.get("message")):
            return code, _readable(detail["message"])
    inner = _key(error, "innererror")
    internal = _key(inner, "internalexception") if isinstance(inner, dict) else None
    if isinstance(internal, dict) and _readable(_key(internal, "message")):
        return code, _readable(_key(internal, "message"))
    return code, _readable(error.get("message"))


class ExchangeClient:
    """Runs one Exchange Online cmdlet per call, app-only, with paging, retries and error mapping."""

    def __init__(self, endpoints: TenantEndpoints, tokens: TokenSource, *, policy: RetryPolicy | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        """`transport` replaces the pooled HTTP/2 one (the write client sends through one that retries 429 only)."""
        self._endpoints = endpoints
        self._tokens = tokens
        self._policy = policy or RetryPolicy()
        self._url = f"{endpoints.exchange_url.rstrip('/')}/adminapi/beta/{endpoints.tenant_id}/InvokeCommand"
        if transport is None:
            transport = httpx.AsyncHTTPTransport(http2=True, verify=tls_verify(endpoints), limits=POOL_LIMITS)
        self._http = httpx.AsyncClient(transport=transport, timeout=TIMEOUT)

    async def close(self) -> None:
        await self._http.aclose()

    async def invoke(self, cmdlet: str, parameters: dict[str, Any] | None = None, *, mailbox: str | None = None
                     ) -> list[dict[str, Any]]:
        """Run `cmdlet` with `parameters`; every page of `value`. `mailbox` names the mailbox a
        mailbox-scoped cmdlet is about (its X-AnchorMailbox). Raises TenantError (one sentence)."""
        return (await self.call(cmdlet, parameters, mailbox=mailbox)).rows

    async def call(self, cmdlet: str, parameters: dict[str, Any] | None = None, *, mailbox: str | None = None
                   ) -> ExchangeResult:
        """Like invoke, plus the request id of the (last) call for the audit row."""
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters or {}}}
        # Get-* cmdlets change nothing, so a timed-out one is safe to send again.
        idempotent = cmdlet.startswith("Get-")
        rows: list[dict[str, Any]] = []
        url: str | None = self._url
        request_id: str | None = None
        pages = 0
        while url is not None and pages < MAX_PAGES:
            pages += 1
            payload, request_id = await self._post(url, body, cmdlet=cmdlet, idempotent=idempotent,
                                                   anchor=anchor_for(mailbox, self._endpoints.tenant_id))
            value = payload.get("value") if isinstance(payload, dict) else None
            if isinstance(value, list):
                rows.extend(v for v in value if isinstance(v, dict))
            next_link = payload.get("@odata.nextLink") if isinstance(payload, dict) else None
            url = str(next_link) if next_link else None
        return ExchangeResult(rows=rows, request_id=request_id)

    async def _headers(self, anchor: str) -> dict[str, str]:
        token = await self._tokens.token(EXCHANGE_SCOPE)
        return {
            "Authorization": f"Bearer {token}",
            "X-AnchorMailbox": anchor,
            "Accept": "application/json",
            "Prefer": "odata.maxpagesize=1000",
        }

    async def _post(self, url: str, body: dict[str, Any], *, cmdlet: str, idempotent: bool, anchor: str
                    ) -> tuple[Any, str | None]:
        async def send() -> httpx.Response:
            return await self._http.post(url, json=body, headers=await self._headers(anchor))

        try:
            attempted = await send_with_retry(send, policy=self._policy, idempotent=idempotent)
        except TenantError:
            raise
        except httpx.HTTPError as exc:
            raise from_transport_exception(exc, service=SERVICE, operation=cmdlet) from None
        response = attempted.response
        try:
            payload: Any = response.json() if response.content else {}
        except ValueError:
            payload = None
        request_id = _request_id(response, payload)
        if response.is_success:
            if payload is None:
                raise TenantError(f"{SERVICE} answered {cmdlet} with something that is not JSON.",
                                  status=response.status_code, request_id=request_id)
            return payload, request_id
        code, message = _error_message(payload)
        if message and _NOT_RECOGNIZED.search(message):
            # Not a typo on our side: the app's Exchange roles do not include the cmdlet.
            role = role_for(cmdlet)
            raise PermissionDenied(
                f"{SERVICE} does not offer {cmdlet} to this app: assign the app the Exchange role {role} "
                "(docs/permissions.md, Exchange RBAC for the app).", status=response.status_code, code=code,
                request_id=request_id, permission=f"the Exchange role {role}")
        raise build_error(
            service=SERVICE, operation=cmdlet, status=response.status_code, code=code,
            message=message or response.reason_phrase, request_id=request_id,
            permission=PERMISSION.format(cmdlet=cmdlet) if response.status_code == 403 else None,
            retries=attempted.retries,
        )
