"""Secure Score, the asynchronous Audit Log Query API, alerts_v2 and raising alerts for pollers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.sandbox.conftest import ALICE, BOB, Tenant


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_secure_scores_newest_first_with_top(tenant: Tenant) -> None:
    body = (await tenant.graph("GET", "/security/secureScores", params={"$top": "7"})).json()
    assert len(body["value"]) == 7
    dates = [s["createdDateTime"] for s in body["value"]]
    assert dates == sorted(dates, reverse=True)
    profiles = (await tenant.graph("GET", "/security/secureScoreControlProfiles")).json()["value"]
    by_name = {p["id"]: p for p in profiles}
    assert by_name["BlockLegacyAuthentication"]["maxScore"] == 8.0
    assert body["value"][0]["maxScore"] == sum(p["maxScore"] for p in profiles)


async def test_audit_log_query_runs_then_returns_the_accounts_records(tenant: Tenant) -> None:
    await tenant.admin("POST", "/options", json={"auditQueryDelayS": 0.3})
    await tenant.exo("Set-Mailbox", {"Identity": "alice", "AuditEnabled": True})  # a write through the sandbox
    now = datetime.now(UTC)
    created = await tenant.graph("POST", "/security/auditLog/queries", json={
        "@odata.type": "#microsoft.graph.security.auditLogQuery", "displayName": "alice last 7 days",
        "filterStartDateTime": _iso(now - timedelta(days=7)), "filterEndDateTime": _iso(now + timedelta(minutes=1)),
        "userPrincipalNameFilters": ["alice@contoso.com"]})
    assert created.status_code == 201 and created.json()["status"] == "notStarted"
    qid = created.json()["id"]
    early = await tenant.graph("GET", f"/security/auditLog/queries/{qid}/records")
    assert early.status_code == 400
    await asyncio.sleep(0.35)
    assert (await tenant.graph("GET", f"/security/auditLog/queries/{qid}")).json()["status"] == "succeeded"
    records = (await tenant.graph("GET", f"/security/auditLog/queries/{qid}/records")).json()["value"]
    operations = [r["operation"] for r in records]
    assert {"New-InboxRule", "Set-Mailbox", "MailItemsAccessed", "Send"} <= set(operations)
    assert operations.count("Set-Mailbox") == 2  # the attacker's and ours
    assert {r["userPrincipalName"] for r in records} == {"alice@contoso.com"}
    assert tenant.server.write_log[-1].route == "EXO Set-Mailbox"  # query creation is not a tenant write


async def test_audit_query_validation(tenant: Tenant) -> None:
    bad = await tenant.graph("POST", "/security/auditLog/queries", json={"filterStartDateTime": "yesterday"})
    assert bad.status_code == 400
    bad = await tenant.graph("POST", "/security/auditLog/queries", json={
        "filterStartDateTime": "2025-01-02T00:00:00Z", "filterEndDateTime": "2025-01-03T00:00:00Z", "colour": 1})
    assert bad.status_code == 400


async def test_alerts_filter_and_raising_new_ones(tenant: Tenant) -> None:
    cursor = _iso(datetime.now(UTC) - timedelta(seconds=1))
    existing = (await tenant.graph("GET", "/security/alerts_v2")).json()["value"]
    assert existing[0]["evidence"][0]["@odata.type"] == "#microsoft.graph.security.userEvidence"
    assert existing[0]["evidence"][0]["userAccount"]["userPrincipalName"] == "alice@contoso.com"
    assert (await tenant.graph("GET", "/security/alerts_v2", params={
        "$filter": f"createdDateTime gt {cursor}"})).json()["value"] == []
    raised = await tenant.admin("POST", "/alerts", json={"user": "bob", "kind": "defender", "severity": "high",
                                                          "title": "Mass download"})
    assert raised.status_code == 201
    new = (await tenant.graph("GET", "/security/alerts_v2", params={
        "$filter": f"createdDateTime gt {cursor}"})).json()["value"]
    assert [(a["title"], a["evidence"][0]["userAccount"]["azureAdUserId"]) for a in new] == [("Mass download", BOB)]
    await tenant.admin("POST", "/alerts", json={"user": "bob@contoso.com", "kind": "risky_user", "severity": "medium"})
    risky = (await tenant.graph("GET", "/identityProtection/riskyUsers", params={
        "$filter": f"riskLastUpdatedDateTime gt {cursor} and riskState eq 'atRisk'"})).json()["value"]
    assert [(r["id"], r["riskLevel"]) for r in risky] == [(BOB, "medium")]
    assert (await tenant.admin("POST", "/alerts", json={"user": "nobody"})).status_code == 400
    assert ALICE  # the fixture's own alert stays in place
