"""Error shapes of the services the sandbox imitates.

Graph: `{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}`.
Exchange Online's InvokeCommand: `{"error": {"code", "message", "details": [...], "innererror": {...}}}`.
Handlers raise these exceptions; the app turns them into responses with the request's ids.
"""

from __future__ import annotations

import zlib
from typing import Any


class GraphError(Exception):
    """A Graph error answer: HTTP status, Graph error code and the one-sentence message."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class ExoError(Exception):
    """An Exchange cmdlet error. `kind` is the .NET exception type the real service names."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


def not_found(resource: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{resource}' does not exist or one of its queried reference-property objects "
                      "are not present.")


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def forbidden() -> GraphError:
    return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def graph_error_body(err: GraphError, *, date: str, request_id: str, client_request_id: str) -> dict[str, Any]:
    return {"error": {"code": err.code, "message": err.message,
                      "innerError": {"date": date, "request-id": request_id, "client-request-id": client_request_id}}}


# Errors the PowerShell parameter binder or command lookup raises before the cmdlet runs: Exchange's REST
# front end reports them without `details`, only in `innererror.internalexception`.
_BINDER_ERRORS = ("ParameterBinding", "CommandNotFoundException", "InvalidRequestException",
                  "InvalidAnchorMailboxException")


def exo_error_body(err: ExoError, *, request_id: str) -> dict[str, Any]:
    """As InvokeCommand answers: a generic top-level message; the cmdlet's own sentence in `details` as
    `Ex<hash>|<.NET type>|<sentence>` for errors the cmdlet raised, and always in
    `innererror.internalexception`."""
    code = "NotFound" if err.status == 404 else "BadRequest"
    kind = f"Microsoft.Exchange.Configuration.Tasks.{err.kind}"
    body: dict[str, Any] = {
        "code": code,
        "message": "Error executing request. " if err.status >= 400 else err.message,
        "innererror": {"message": "Error executing request. ",
                       "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException", "stacktrace": "",
                       "request-id": request_id,
                       "internalexception": {"message": err.message, "type": kind, "stacktrace": ""}},
    }
    if not err.kind.startswith(_BINDER_ERRORS):
        tag = f"Ex{zlib.crc32(err.kind.encode()) % 0xFFFFFF:06X}"
        body["details"] = [{"code": "Context", "target": "", "message": f"{tag}|{kind}|{err.message}"}]
    return {"error": body}
