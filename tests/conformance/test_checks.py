"""The conformance checks catch what they claim to catch: each kind of nonconformance, written by hand
as a request-log record, gives a finding; and what Graph and Exchange accept gives none."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.records import RequestRecord
from tests.conformance import checks


def _graph(method: str, path: str, *, query: str = "", status: int = 200, body: Any = None, answer: Any = None,
           route: str = "") -> RequestRecord:
    return RequestRecord(method=method, route=route or f"{method} {path}", status=status, time="", request_id="",
                         path=f"/v1.0{path}", query=query, body=body, answer=answer)


def _exo(cmdlet: str, **parameters: Any) -> list[str]:
    record = RequestRecord(method="POST", route=f"EXO {cmdlet}", status=200, time="", request_id="",
                           path="/adminapi/beta/t/InvokeCommand",
                           body={"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}})
    return checks.exchange_findings([record])


METHODS = {"value": [
    {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "p", "createdDateTime": None},
    {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "m", "phoneNumber": "+1 5550100",
     "phoneType": "mobile", "smsSignInState": "notEnabled"},
]}


@pytest.mark.parametrize(("record", "expected"), [
    (_graph("GET", "/users/u1/invented"), "no msgraph-sdk request builder expresses this path"),
    (_graph("DELETE", "/auditLogs/signIns"), "has no DELETE"),
    (_graph("GET", "/identityProtection/riskyUsers/u1", query="$top=5"), "$top is not a query option"),
    (_graph("GET", "/users/u1", query="$select=id,ipAddress", answer={"id": "u1"}),
     "$select ipAddress is not a property of microsoft.graph.user"),
    (_graph("GET", "/users/u1", query="$select=id", answer={"id": "u1", "displayName": "Alice"}),
     "answered displayName although $select did not ask for it"),
    (_graph("GET", "/users/u1/authentication/methods",
            answer={"value": [{**METHODS["value"][1], "ipAddress": "203.0.113.9"}]}),
     "value[].ipAddress is not a property of microsoft.graph.phoneAuthenticationMethod"),
    (_graph("PATCH", "/users/u1", status=204, body={"accountEnabled": False, "blockedBy": "contain"}),
     "body: blockedBy is not a property of microsoft.graph.user"),
    (_graph("GET", "/users/u1", status=404, answer={"error": {"code": "Request_ResourceNotFound", "message": "x",
                                                              "extra": 1}}),
     "answer 404: error.extra is not a property of"),
])
def test_graph_check_finds(record: RequestRecord, expected: str) -> None:
    found = checks.graph_findings([record])
    assert any(expected in f for f in found), found


@pytest.mark.parametrize("record", [
    _graph("GET", "/users/alice@contoso.com", query="$select=id,signInActivity,accountEnabled",
           answer={"@odata.context": "x", "id": "u1", "accountEnabled": True}),
    _graph("GET", "/users/u1/authentication/methods", answer=METHODS),
    _graph("GET", "/users/u1/memberOf/microsoft.graph.directoryRole", answer={"value": []}),
    _graph("DELETE", "/directoryRoles/r1/members/u1/$ref", status=204),
    _graph("POST", "/identityProtection/riskyUsers/confirmCompromised", status=204, body={"userIds": ["u1"]}),
    # controlScore is an open type: properties the CSDL does not name are allowed there.
    _graph("GET", "/security/secureScores", query="$top=1", answer={"value": [{
        "id": "s", "currentScore": 1.0, "controlScores": [{"controlName": "MFA", "score": 1.0, "on": True}]}]}),
    _graph("GET", "/users/u1", status=404, answer={"error": {"code": "Request_ResourceNotFound", "message": "x",
                                                             "innerError": {"request-id": "r", "date": "d"}}}),
])
def test_graph_check_accepts(record: RequestRecord) -> None:
    assert checks.graph_findings([record]) == []


def test_beta_is_reported_apart() -> None:
    beta = RequestRecord(method="GET", route="GET /auditLogs/signIns", status=200, time="", request_id="",
                         path="/beta/auditLogs/signIns")
    assert checks.graph_findings([beta]) == []
    assert checks.unchecked_beta([beta]) == ["GET /auditLogs/signIns"]


@pytest.mark.parametrize(("cmdlet", "parameters", "expected"), [
    ("Get-InboxRule", {"Mailbox": "a", "IncludeHiddenRules": True}, "-IncludeHiddenRules: not a parameter"),
    ("Disable-InboxRule", {"Identity": "r", "DomainController": "dc1"}, "-DomainController: does not apply"),
    ("Remove-MailboxPermission", {"Identity": "a", "User": "b", "AccessRights": ["FullAccess"], "Confirm": "no"},
     "-Confirm: a SwitchParameter takes true or false"),
    ("Get-Mailbox", {"Identity": "a", "Anr": "al"}, "are in no one parameter set"),
    ("Get-UnknownThing", {}, "no reference page"),
])
def test_exchange_check_finds(cmdlet: str, parameters: dict[str, Any], expected: str) -> None:
    found = _exo(cmdlet, **parameters)
    assert any(expected in f for f in found), found


def test_exchange_check_accepts_aliases_common_parameters_and_nulls() -> None:
    assert _exo("Disable-InboxRule", Identity="r", Mailbox="a", cf=False, ErrorAction="Stop") == []
    assert _exo("Set-Mailbox", Identity="a", ForwardingSmtpAddress=None, DeliverToMailboxAndForward=False) == []
