"""The client layer against the sandbox on loopback: MSAL with a secret and with a certificate, kiota's
retries, the Exchange client's paging and retries, permission gaps, and the CLI's error path."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from msgraph import GraphServiceClient

from dialogs.terminal.investigate import handler
from services.findings.investigation import investigate
from services.findings.resolve import resolve
from services.runtime import Runtime
from services.tenant.auth import EXCHANGE_SCOPE, GRAPH_SCOPE, TokenSource
from services.tenant.errors import PermissionDenied, TenantError
from services.tenant.exchange import ExchangeClient
from services.tenant.facade import Tenant
from services.tenant.graph import graph_request_adapter
from services.vocabulary import FindingKind, Resolved


def self_signed(tmp_path: Path) -> tuple[Path, str]:
    """A PEM file with a fresh private key and its self-signed certificate, and the certificate alone."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "contain-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    path = tmp_path / "app.pem"
    path.write_text(key_pem + cert_pem)
    return path, cert_pem


async def alice(runtime: Runtime) -> Resolved:
    result = await resolve(runtime.tenant, "alice@contoso.com")
    assert isinstance(result, Resolved)
    return result


async def test_secret_token_reaches_graph_and_exchange(runtime: Runtime) -> None:
    assert runtime.endpoints.client_secret
    assert await runtime.tokens.token(GRAPH_SCOPE)
    assert await runtime.tokens.token(EXCHANGE_SCOPE)
    assert (await alice(runtime)).user.user_principal_name == "alice@contoso.com"
    assert await runtime.tenant.get_mailbox(mailbox="alice@contoso.com") is not None


async def test_certificate_credential_signs_in(runtime: Runtime, tmp_path: Path) -> None:
    pem_path, cert_pem = self_signed(tmp_path)
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{runtime.sandbox.url}/_sandbox/apps/{runtime.endpoints.client_id}/certificates",
                                   json={"pem": cert_pem})
        assert answer.status_code == 201
    endpoints = replace(runtime.endpoints, client_secret=None, certificate_pem=pem_path)
    tokens = TokenSource(endpoints)
    exchange = ExchangeClient(endpoints, tokens)
    tenant = Tenant(
        graph=GraphServiceClient(request_adapter=graph_request_adapter(endpoints, tokens)), exchange=exchange,
        endpoints=endpoints)
    try:
        user = await tenant.get_user(user_id="alice@contoso.com")
        assert user is not None and user.display_name
        assert await tenant.get_organization_config() is not None
    finally:
        await tenant.close()
        await exchange.close()


async def test_unregistered_certificate_is_one_sentence(runtime: Runtime, tmp_path: Path) -> None:
    pem_path, _ = self_signed(tmp_path)
    tokens = TokenSource(replace(runtime.endpoints, client_secret=None, certificate_pem=pem_path))
    with pytest.raises(TenantError) as caught:
        await tokens.token(GRAPH_SCOPE)
    assert "AADSTS" in caught.value.sentence
    assert "Trace ID" not in caught.value.sentence and "\n" not in caught.value.sentence


async def test_wrong_secret_never_appears_in_the_error(runtime: Runtime) -> None:
    secret = "not-the-secret-8f3a"
    tokens = TokenSource(replace(runtime.endpoints, client_secret=secret))
    with pytest.raises(TenantError) as caught:
        await tokens.token(GRAPH_SCOPE)
    assert caught.value.sentence.startswith("Microsoft Entra ID refused a token")
    assert "AADSTS" in caught.value.sentence
    assert secret not in caught.value.sentence and runtime.endpoints.client_secret not in caught.value.sentence


async def test_graph_429_with_retry_after_is_retried(runtime: Runtime) -> None:
    runtime.sandbox.faults.add(route="GET /users/{id}", status=429, retry_after=1, times=1)
    user = await runtime.tenant.get_user(user_id="alice@contoso.com")
    assert user is not None
    hits = [r for r in runtime.sandbox.request_log if getattr(r, "route", "") == "GET /users/{id}"]
    assert len(hits) == 2


async def test_exchange_429_with_retry_after_is_retried(runtime: Runtime) -> None:
    rule = runtime.sandbox.faults.add(route="EXO Get-Mailbox", status=429, retry_after=0, times=2)
    mailbox = await runtime.tenant.get_mailbox(mailbox="alice@contoso.com")
    assert mailbox is not None and rule.fired == 2


async def test_exchange_retries_exhausted_is_one_sentence(runtime: Runtime) -> None:
    runtime.sandbox.faults.add(route="EXO Get-Mailbox", status=503, retry_after=0)
    with pytest.raises(TenantError) as caught:
        await runtime.tenant.get_mailbox(mailbox="alice@contoso.com")
    assert caught.value.sentence.startswith(
        "Exchange Online kept answering 503 Service Unavailable to Get-Mailbox after 3 retries")
    assert caught.value.sentence.endswith(".")


async def test_exchange_follows_next_links(runtime: Runtime) -> None:
    everyone = await runtime.exchange.invoke("Get-Mailbox", {})
    assert len(everyone) >= 3
    runtime.sandbox.state.options["exoPageSize"] = 1
    before = len(runtime.sandbox.request_log)
    paged = await runtime.exchange.invoke("Get-Mailbox", {})
    assert [m["Identity"] for m in paged] == [m["Identity"] for m in everyone]
    assert len(runtime.sandbox.request_log) - before == len(everyone)


async def test_exchange_error_is_mapped_with_request_id(runtime: Runtime) -> None:
    with pytest.raises(TenantError) as caught:
        await runtime.exchange.invoke("Get-Mailbox", {"Identity": "nobody@contoso.com"})
    assert caught.value.status == 404
    assert "couldn't be found" in caught.value.sentence
    assert caught.value.request_id and caught.value.request_id in caught.value.sentence


async def test_a_403_in_one_read_becomes_a_gap_naming_the_permission(runtime: Runtime) -> None:
    who = await alice(runtime)
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{runtime.sandbox.url}/_sandbox/apps/{runtime.endpoints.client_id}/permissions",
            json={"remove": ["IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All"]})
        assert answer.status_code == 200
    with pytest.raises(PermissionDenied):
        await runtime.tenant.get_risky_user(user_id=who.user.id)
    inv = await investigate(tenant=runtime.tenant, user=who.user)
    assert len(inv.gaps) == 1
    assert "IdentityRiskyUser.Read.All" in inv.gaps[0]
    assert FindingKind.RISKY_USER not in {f.kind for f in inv.findings}
    assert FindingKind.INBOX_RULE_FORWARD in {f.kind for f in inv.findings}


async def test_writes_return_the_request_id_the_sandbox_logged(runtime: Runtime) -> None:
    who = await alice(runtime)
    request_id = await runtime.tenant.revoke_sessions(user_id=who.user.id)
    assert request_id and runtime.sandbox.write_log[-1].request_id == request_id
    exo_id = await runtime.tenant.set_audit_bypass(mailbox="alice@contoso.com", enabled=False)
    assert exo_id and runtime.sandbox.write_log[-1].request_id == exo_id


async def test_cli_prints_exhausted_retries_as_one_sentence(runtime: Runtime, capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    runtime.sandbox.faults.add(route="GET /users", status=429, retry_after=1)
    args = argparse.Namespace(who="alice@contoso.com", json=False, fixture=None)
    assert await handler(args, runtime) == 1
    err = capsys.readouterr().err
    assert err.strip() == err.strip().splitlines()[0]
    assert "kept answering 429 Too Many Requests" in err and "after 3 retries" in err
    assert "Traceback" not in err


async def test_cli_json_has_the_documented_shape(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    assert await handler(argparse.Namespace(who="alice", json=True, fixture=None), runtime) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["user"]) == {"id", "userPrincipalName", "displayName", "accountEnabled"}
    assert {"kind", "severity", "title", "evidence", "actions"} <= set(out["findings"][0])
    assert out["recommended_actions"][:2] == ["reset_password", "revoke_sessions"]
    assert await handler(argparse.Namespace(who="a", json=True, fixture=None), runtime) == 3
    assert "ambiguous" in json.loads(capsys.readouterr().out)
    assert await handler(argparse.Namespace(who="zebediah", json=True, fixture=None), runtime) == 4
    assert "zebediah" in capsys.readouterr().err


def test_fixture_option_reaches_settings_before_the_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dialogs.terminal.cli import parser as _parser
    from services.settings import load_settings

    # Recorded so the variable the option sets is undone after the test.
    monkeypatch.setenv("CONTAIN_SANDBOX_FIXTURE", "")
    fixture = tmp_path / "tenant.json"
    fixture.write_text("{}")
    args = _parser().parse_args(["investigate", "bob", "--fixture", str(fixture)])
    assert args.fixture == fixture
    assert load_settings({**os.environ, "CONTAIN_HOME": str(tmp_path)}).sandbox_fixture == fixture
