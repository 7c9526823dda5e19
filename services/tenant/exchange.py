"""Exchange Online cmdlets over the InvokeCommand REST endpoint.

UNDOCUMENTED ENDPOINT. Exchange Online has no documented REST API for Get-InboxRule -IncludeHidden,
Set-Mailbox, *-MailboxPermission, *-BlockedSenderAddress and friends. Microsoft's own
ExchangeOnlineManagement v3 module calls `POST {exchange}/adminapi/beta/{tenantId}/InvokeCommand`
with `{"CmdletInput": {"CmdletName": ..., "Parameters": {...}}}`; that is what this module does.
Microsoft may change it without notice, so it is isolated here: nothing else in Contain knows the
wire format, and a change means editing this file only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from services.settings import TenantEndpoints
from services.tenant.auth import EXCHANGE_SCOPE, TokenSource
from services.tenant.errors import TenantError, build_error, from_transport_exception
from services.tenant.graph import POOL_LIMITS, TIMEOUT, tls_verify
from services.tenant.retry import RetryPolicy, send_with_retry

SERVICE = "Exchange Online"
ANCHOR_MAILBOX = "APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{tenant}"
PERMISSION = "Exchange.ManageAsApp and an Exchange role that allows {cmdlet}"
MAX_PAGES = 200  # a bound on nextLink chains, in case the service loops


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


def _error_message(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from `error.details[].message`, else `error.message`.

    Detail messages look like `Ex6F9304|Microsoft.Exchange...ManagementObjectNotFoundException|The
    operation couldn't be performed ...`; the readable part is after the last `|`."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None, None
    error = body["error"]
    code = error.get("code")
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("message"):
            return code, str(detail["message"]).split("|")[-1].strip()
    return code, error.get("message")


class ExchangeClient:
    """Runs one Exchange Online cmdlet per call, app-only, with paging, retries and error mapping."""

    def __init__(self, endpoints: TenantEndpoints, tokens: TokenSource, *, policy: RetryPolicy | None = None) -> None:
        self._endpoints = endpoints
        self._tokens = tokens
        self._policy = policy or RetryPolicy()
        self._url = f"{endpoints.exchange_url.rstrip('/')}/adminapi/beta/{endpoints.tenant_id}/InvokeCommand"
        self._http = httpx.AsyncClient(http2=True, verify=tls_verify(endpoints), limits=POOL_LIMITS, timeout=TIMEOUT)

    async def close(self) -> None:
        await self._http.aclose()

    async def invoke(self, cmdlet: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run `cmdlet` with `parameters`; every page of `value`. Raises TenantError (one sentence)."""
        return (await self.call(cmdlet, parameters)).rows

    async def call(self, cmdlet: str, parameters: dict[str, Any] | None = None) -> ExchangeResult:
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
            payload, request_id = await self._post(url, body, cmdlet=cmdlet, idempotent=idempotent)
            value = payload.get("value") if isinstance(payload, dict) else None
            if isinstance(value, list):
                rows.extend(v for v in value if isinstance(v, dict))
            next_link = payload.get("@odata.nextLink") if isinstance(payload, dict) else None
            url = str(next_link) if next_link else None
        return ExchangeResult(rows=rows, request_id=request_id)

    async def _headers(self) -> dict[str, str]:
        token = await self._tokens.token(EXCHANGE_SCOPE)
        return {
            "Authorization": f"Bearer {token}",
            "X-AnchorMailbox": ANCHOR_MAILBOX.format(tenant=self._endpoints.tenant_id),
            "Accept": "application/json",
            "Prefer": "odata.maxpagesize=1000",
        }

    async def _post(self, url: str, body: dict[str, Any], *, cmdlet: str, idempotent: bool
                    ) -> tuple[Any, str | None]:
        async def send() -> httpx.Response:
            return await self._http.post(url, json=body, headers=await self._headers())

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
        raise build_error(
            service=SERVICE, operation=cmdlet, status=response.status_code, code=code,
            message=message or response.reason_phrase, request_id=request_id,
            permission=PERMISSION.format(cmdlet=cmdlet) if response.status_code == 403 else None,
            retries=attempted.retries,
        )
