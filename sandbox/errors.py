"""Error shapes of the services the sandbox imitates.

Graph: `{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}`.
Exchange Online's InvokeCommand: `{"error": {"code", "message", "details": [...], "innererror": {...}}}`.
Handlers raise these exceptions; the app turns them into responses with the request's ids.
"""

from __future__ import annotations

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


def exo_error_body(err: ExoError, *, request_id: str) -> dict[str, Any]:
    code = "NotFound" if err.status == 404 else "BadRequest"
    return {"error": {
        "code": code,
        "message": err.message,
        "details": [{"code": err.kind, "target": "", "message": err.message}],
        "innererror": {"message": err.message, "type": f"Microsoft.Exchange.Configuration.Tasks.{err.kind}",
                       "stacktrace": "", "request-id": request_id},
    }}
