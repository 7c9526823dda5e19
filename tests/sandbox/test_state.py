"""Fixture loading, relative dates, persistence across servers, reset, and the on-disk write journal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sandbox.fixture import FixtureError, load_fixture, resolve_relative
from sandbox.server import SandboxServer
from tests.sandbox.conftest import ALICE, Tenant, token

MINIMAL = {
    "schemaVersion": 1,
    "tenant": {"id": "00000000-0000-4000-8000-0000000000aa", "displayName": "Fabrikam",
               "defaultDomain": "fabrikam.com", "verifiedDomains": ["fabrikam.com"]},
    "apps": [{"clientId": "00000000-0000-4000-8000-0000000000bb", "clientSecret": "s",
              "permissions": ["User.Read.All", "Exchange.ManageAsApp"]}],
    "users": [{"id": "00000000-0000-4000-8000-0000000000cc", "userPrincipalName": "zoe@fabrikam.com",
               "displayName": "Zoe Lee", "createdDateTime": "-2d",
               "signIns": [{"createdDateTime": "-1h", "ipAddress": "192.0.2.1"}]}],
}


def test_relative_dates_resolve_against_now() -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    out = resolve_relative({"a": "-1d", "b": ["-45m", "now", "-1d+5m"], "c": "-not-a-date", "d": "+2h"}, now)
    assert out == {"a": "2025-02-28T12:00:00Z", "b": ["2025-03-01T11:15:00Z", "2025-03-01T12:00:00Z",
                                                      "2025-02-28T12:05:00Z"], "c": "-not-a-date",
                   "d": "2025-03-01T14:00:00Z"}


def test_default_fixture_has_thirty_days_of_secure_score() -> None:
    from sandbox.fixture import default_fixture_path

    state = load_fixture(json.loads(default_fixture_path().read_text()))
    scores = state["secureScores"]
    assert len(scores) == 30
    assert scores[0]["createdDateTime"] > scores[-1]["createdDateTime"]  # newest first
    names = {c["controlName"] for c in scores[0]["controlScores"]}
    assert {"mfaRegistrationV2", "BlockLegacyAuthentication", "mailboxAuditingEnabled"} <= names
    assert {a["basis"] for a in scores[0]["averageComparativeScores"]} == {"AllTenants", "TotalSeats",
                                                                           "IndustryTypes"}
    assert scores[0]["currentScore"] > scores[7]["currentScore"] > scores[29]["currentScore"]
    authenticator = state["authenticationMethods"][ALICE][1]
    created = datetime.fromisoformat(authenticator["createdDateTime"].replace("Z", "+00:00"))
    assert timedelta(hours=23) < datetime.now(UTC) - created < timedelta(hours=25)


async def test_custom_minimal_fixture(tmp_path: Path) -> None:
    path = tmp_path / "fabrikam.json"
    path.write_text(json.dumps(MINIMAL))
    async with SandboxServer(home=tmp_path / "home", fixture=path) as server:
        ep = server.endpoints()
        assert (ep.tenant_id, ep.client_id) == (MINIMAL["tenant"]["id"], MINIMAL["apps"][0]["clientId"])  # type: ignore[index]
        bearer = (await token(server)).json()["access_token"]
        async with httpx.AsyncClient(trust_env=False) as client:
            users = (await client.get(f"{server.url}/v1.0/users",
                                      headers={"Authorization": f"Bearer {bearer}"})).json()["value"]
            denied = await client.get(f"{server.url}/v1.0/auditLogs/signIns",
                                      headers={"Authorization": f"Bearer {bearer}"})
        assert [u["userPrincipalName"] for u in users] == ["zoe@fabrikam.com"]
        assert denied.status_code == 403  # the fixture's app lacks AuditLog.Read.All


@pytest.mark.parametrize("content", ["{", "[]", json.dumps({"schemaVersion": 99}),
                                     json.dumps({**MINIMAL, "users": None} | {"tenant": None})])
def test_bad_fixtures_fail_with_one_sentence(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(FixtureError):
        SandboxServer(home=tmp_path / "home", fixture=path)


async def test_state_persists_across_servers_and_reset_restores(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with SandboxServer(home=home) as first:
        bearer = (await token(first)).json()["access_token"]
        async with httpx.AsyncClient(trust_env=False) as client:
            resp = await client.patch(f"{first.url}/v1.0/users/{ALICE}", json={"accountEnabled": False},
                                      headers={"Authorization": f"Bearer {bearer}"})
        assert resp.status_code == 204
    journal = (home / "sandbox" / "writes.jsonl").read_text().splitlines()
    assert [json.loads(line)["route"] for line in journal] == ["PATCH /users/{id}"]
    second = SandboxServer(home=home)
    assert second.state.user(ALICE)["accountEnabled"] is False
    second.reset()
    assert second.state.user(ALICE)["accountEnabled"] is True
    assert not (home / "sandbox" / "writes.jsonl").exists()
    assert SandboxServer(home=home).state.user(ALICE)["accountEnabled"] is True
    assert SandboxServer(home=tmp_path / "other", persist=False).state.state_file is None


async def test_admin_reset_and_write_log_endpoint(tenant: Tenant) -> None:
    await tenant.graph("POST", f"/users/{ALICE}/revokeSignInSessions")
    await tenant.graph("PATCH", f"/users/{ALICE}", json={"accountEnabled": False})
    writes = (await tenant.admin("GET", "/writes")).json()["value"]
    assert [w["route"] for w in writes] == ["POST /users/{id}/revokeSignInSessions", "PATCH /users/{id}"]
    assert (await tenant.admin("POST", "/reset")).status_code == 200
    assert (await tenant.admin("GET", "/writes")).json()["value"] == []
    user = (await tenant.graph("GET", f"/users/{ALICE}", params={"$select": "accountEnabled"})).json()
    assert user["accountEnabled"] is True
    info = (await tenant.admin("GET", "/info")).json()
    assert info["tenantId"] == tenant.server.state.tenant_id and "BEGIN CERTIFICATE" in info["caPem"]


async def test_fetch_endpoints_for_a_sandbox_elsewhere(tenant: Tenant, tmp_path: Path) -> None:
    from sandbox.server import fetch_endpoints

    ep = await fetch_endpoints(tenant.server.url, home=tmp_path / "client-home")
    assert ep.graph_url == tenant.server.url and ep.client_id == tenant.server.endpoints().client_id
    assert ep.ca_bundle is not None and ep.ca_bundle.read_text() == tenant.server.keys.ca_pem.read_text()
