"""The token endpoint (client secret, certificate, MSAL itself) and how Graph and Exchange check tokens."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sandbox.server import SandboxServer
from tests.sandbox.conftest import EXO_SCOPE, Tenant, token


async def test_secret_issues_a_graph_token_with_the_apps_roles(sandbox: SandboxServer) -> None:
    resp = await token(sandbox)
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 3000
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == sandbox.state.tenant_id
    assert claims["appid"] == sandbox.endpoints().client_id
    assert "IdentityRiskyUser.ReadWrite.All" in claims["roles"]
    assert "Exchange.ManageAsApp" not in claims["roles"]
    exo = jwt.decode((await token(sandbox, EXO_SCOPE)).json()["access_token"], options={"verify_signature": False})
    assert exo["aud"] == "https://outlook.office365.com" and exo["roles"] == ["Exchange.ManageAsApp"]


async def test_wrong_secret_is_invalid_client_401(sandbox: SandboxServer) -> None:
    resp = await token(sandbox, secret="not-the-secret")
    assert resp.status_code == 401
    body = resp.json()
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215:")
    assert "not-the-secret" not in resp.text


async def test_unsupported_scope_is_refused(sandbox: SandboxServer) -> None:
    resp = await token(sandbox, scope="https://graph.microsoft.com/User.Read")
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_scope"


def _acquire(authority: str, client_id: str, credential: object, ca: str) -> dict[str, object]:
    app = msal.ConfidentialClientApplication(client_id, client_credential=credential, authority=authority,
                                             instance_discovery=False, verify=ca)
    return app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])  # type: ignore[no-any-return]


@pytest.fixture
def no_ca_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets these override MSAL's verify=; the product passes its CA per request instead.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


async def test_msal_acquires_a_token_with_the_secret(sandbox: SandboxServer, no_ca_env: None) -> None:
    ep = sandbox.endpoints()
    result = await asyncio.to_thread(_acquire, ep.authority, ep.client_id, ep.client_secret, str(ep.ca_bundle))
    assert "access_token" in result, result
    claims, reason = sandbox.authority.verify(f"Bearer {result['access_token']}", "https://graph.microsoft.com")
    assert claims is not None, reason


async def test_msal_with_a_wrong_secret_reports_the_aad_error(sandbox: SandboxServer, no_ca_env: None) -> None:
    ep = sandbox.endpoints()
    result = await asyncio.to_thread(_acquire, ep.authority, ep.client_id, "wrong", str(ep.ca_bundle))
    assert result.get("error") == "invalid_client"
    assert 7000215 in result.get("error_codes", [])  # type: ignore[operator]


def _certificate() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "contain-test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


async def test_msal_with_a_registered_certificate(tenant: Tenant, no_ca_env: None) -> None:
    ep = tenant.server.endpoints()
    key_pem, cert_pem = _certificate()
    unregistered = await asyncio.to_thread(_acquire, ep.authority, ep.client_id,
                                           {"private_key": key_pem, "public_certificate": cert_pem},
                                           str(ep.ca_bundle))
    assert unregistered.get("error") == "invalid_client"
    resp = await tenant.admin("POST", f"/apps/{ep.client_id}/certificates", content=cert_pem)
    assert resp.status_code == 201
    thumb = x509.load_pem_x509_certificate(cert_pem.encode()).fingerprint(hashes.SHA1()).hex()  # noqa: S303
    for credential in ({"private_key": key_pem, "public_certificate": cert_pem},  # x5t#S256, PS256
                       {"private_key": key_pem, "thumbprint": thumb}):  # x5t, RS256
        result = await asyncio.to_thread(_acquire, ep.authority, ep.client_id, credential, str(ep.ca_bundle))
        assert "access_token" in result, result


async def test_graph_without_a_token_is_401_in_graphs_shape(sandbox: SandboxServer) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        resp = await client.get(f"{sandbox.url}/v1.0/users", headers={"client-request-id": "abc-123"})
    assert resp.status_code == 401
    error = resp.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["innerError"]["request-id"] == resp.headers["request-id"]
    assert error["innerError"]["client-request-id"] == "abc-123" == resp.headers["client-request-id"]
    assert "date" in error["innerError"]


async def test_forged_and_wrong_audience_tokens_are_401(tenant: Tenant) -> None:
    forged = jwt.encode({"aud": "https://graph.microsoft.com", "tid": tenant.server.state.tenant_id, "appid": "x",
                         "exp": 9999999999}, "secret", algorithm="HS256")
    for bearer in (forged, tenant.exo_token, "not-a-jwt"):
        resp = await tenant.client.get(f"{tenant.server.url}/v1.0/users",
                                       headers={"Authorization": f"Bearer {bearer}"})
        assert resp.status_code == 401, bearer
        assert resp.json()["error"]["code"] == "InvalidAuthenticationToken"


async def test_removing_a_permission_gives_403(tenant: Tenant) -> None:
    client_id = tenant.server.endpoints().client_id
    assert (await tenant.graph("GET", "/identityProtection/riskyUsers")).status_code == 200
    resp = await tenant.admin("POST", f"/apps/{client_id}/permissions",
                              json={"remove": ["IdentityRiskyUser.ReadWrite.All"]})
    assert resp.status_code == 200
    denied = await tenant.graph("GET", "/identityProtection/riskyUsers")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authorization_RequestDenied"
    assert denied.json()["error"]["message"] == "Insufficient privileges to complete the operation."
    assert (await tenant.graph("GET", "/users")).status_code == 200  # other areas unaffected
    await tenant.admin("POST", f"/apps/{client_id}/permissions", json={"add": ["IdentityRiskyUser.Read.All"]})
    assert (await tenant.graph("GET", "/identityProtection/riskyUsers")).status_code == 200
    assert (await tenant.graph("POST", "/identityProtection/riskyUsers/dismiss",
                               json={"userIds": ["x"]})).status_code == 403


async def test_exchange_needs_manage_as_app_and_its_audience(tenant: Tenant) -> None:
    tid = tenant.server.state.tenant_id
    resp = await tenant.client.post(f"{tenant.server.url}/adminapi/beta/{tid}/InvokeCommand",
                                    json={"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {}}},
                                    headers={"Authorization": f"Bearer {tenant.graph_token}"})
    assert resp.status_code == 401
    await tenant.admin("POST", f"/apps/{tenant.server.endpoints().client_id}/permissions",
                       json={"remove": ["Exchange.ManageAsApp"]})
    assert (await tenant.exo("Get-Mailbox")).status_code == 403
