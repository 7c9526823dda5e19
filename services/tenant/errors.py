"""Tenant errors as one sentence each.

Whatever goes wrong between Contain and Graph or Exchange Online reaches a responder as a
TenantError whose `sentence` is one clear sentence (no traceback, no token, no secret), with the
service's request id when there is one so support can find the call.
"""

from __future__ import annotations

import httpx
from kiota_abstractions.api_error import APIError

RETRYABLE_STATUSES = frozenset({429, 503, 504})
# Graph's answer when the tenant's Entra ID licence does not cover the data (signInActivity, sign-in logs).
LICENCE_CODES = frozenset({"Authentication_RequestFromNonPremiumTenantOrB2CTenant"})
STATUS_NAMES = {429: "429 Too Many Requests", 503: "503 Service Unavailable", 504: "504 Gateway Timeout"}


class TenantError(Exception):
    """A call to the tenant failed; `sentence` is what a responder reads."""

    def __init__(self, sentence: str, *, status: int | None = None, code: str | None = None,
                 request_id: str | None = None, permission: str | None = None, licence: str | None = None) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.status = status
        self.code = code
        self.request_id = request_id
        self.permission = permission
        self.licence = licence

    def __str__(self) -> str:
        return self.sentence


class PermissionDenied(TenantError):
    """403: the app registration lacks a permission or an Exchange/Entra role."""


class LicenceRequired(PermissionDenied):
    """403 because the tenant's licence does not cover the data; `licence` names the one needed."""


class NotFoundError(TenantError):
    """404: the object does not exist (any more)."""


def _sentence_end(text: str) -> str:
    text = " ".join(text.split()).rstrip()
    return text.rstrip(".")


def build_error(*, service: str, operation: str, status: int | None, code: str | None, message: str | None,
                request_id: str | None, permission: str | None = None, retries: int | None = None,
                licence: str | None = None) -> TenantError:
    """The one place that words tenant errors, so Graph and Exchange read alike."""
    rid = f" (request id {request_id})" if request_id else ""
    if status == 403 and code in LICENCE_CODES:
        need = licence or "an Entra ID P1 or P2"
        return LicenceRequired(f"{service} refused {operation}: the tenant has no {need} licence{rid}.", status=status,
                               code=code, request_id=request_id, licence=need)
    if status in RETRYABLE_STATUSES and retries:
        sentence = f"{service} kept answering {STATUS_NAMES[status]} to {operation} after {retries} retries{rid}."
    elif status == 403:
        need = f"; the app needs {permission}" if permission else ""
        detail = _sentence_end(message or "access denied")
        sentence = f"{service} refused {operation}: {detail}{need}{rid}."
    else:
        detail = _sentence_end(message or (f"HTTP {status}" if status else "no answer"))
        sentence = f"{service} refused {operation}: {detail}{rid}."
    cls: type[TenantError] = TenantError
    if status == 403:
        cls = PermissionDenied
    elif status == 404:
        cls = NotFoundError
    return cls(sentence, status=status, code=code, request_id=request_id, permission=permission, licence=licence)


def from_graph_exception(exc: BaseException, *, operation: str, permission: str | None = None,
                         retries: int = 3, licence: str | None = None) -> TenantError:
    """Turn whatever the Graph SDK raised into a TenantError (ODataError, APIError, httpx errors)."""
    if isinstance(exc, TenantError):
        return exc
    if isinstance(exc, APIError):
        status = exc.response_status_code
        code = message = request_id = None
        main = getattr(exc, "error", None)  # ODataError.error: MainError
        if main is not None:
            code = main.code
            message = main.message
            inner = main.inner_error
            if inner is not None:
                request_id = inner.request_id
        headers = exc.response_headers or {}
        if request_id is None and hasattr(headers, "get"):
            request_id = headers.get("request-id") or headers.get("client-request-id")
        if message is None and status is None:
            message = exc.message
        return build_error(service="Microsoft Graph", operation=operation, status=status, code=code,
                           message=message, request_id=request_id, permission=permission, retries=retries,
                           licence=licence)
    return from_transport_exception(exc, service="Microsoft Graph", operation=operation)


def from_transport_exception(exc: BaseException, *, service: str, operation: str) -> TenantError:
    """Network-level failures: timeouts, refused connections, TLS problems."""
    if isinstance(exc, httpx.TimeoutException):
        return TenantError(f"{service} did not answer {operation} in time.", code="timeout")
    if isinstance(exc, httpx.ConnectError):
        return TenantError(f"Contain could not connect to {service} for {operation}.", code="connect")
    if isinstance(exc, httpx.HTTPError):
        kind = type(exc).__name__
        return TenantError(f"The connection to {service} failed during {operation} ({kind}).", code="transport")
    kind = type(exc).__name__
    return TenantError(f"{service} returned something Contain could not read for {operation} ({kind}).",
                       code="unexpected")
