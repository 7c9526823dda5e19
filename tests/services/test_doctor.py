"""`contain doctor` against the sandbox tenant through the real composition root: the sandbox passes
every check; a refused permission, a wrong secret, a missing group or channel each name their fix."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from dialogs.terminal.doctor import handler
from sandbox.server import SandboxServer
from services import doctor
from services.runtime import Runtime
from services.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
CHECKS_PER_RUN = 26  # tenant, 2 tokens, users, 19 areas (4 of them Exchange roles), responders group, channel, database


async def _doctor(runtime: Runtime, capsys: pytest.CaptureFixture[str], *, as_json: bool = False
                  ) -> tuple[int, list[str]]:
    code = await handler(argparse.Namespace(json=as_json), runtime)
    out = capsys.readouterr().out
    return code, out.splitlines()


def _failed(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("✗")]


async def _set_permissions(runtime: Runtime, **change: list[str]) -> None:
    client_id = runtime.endpoints.client_id
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{runtime.sandbox.url}/_sandbox/apps/{client_id}/permissions", json=change)
        response.raise_for_status()


def _secret_of(runtime: Runtime) -> str:
    secret = runtime.endpoints.client_secret
    assert secret
    return secret


async def test_sandbox_passes_every_check(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = await _doctor(runtime, capsys)
    assert _failed(lines) == []
    assert len(lines) == CHECKS_PER_RUN and all(line.startswith("✓ ") for line in lines)
    assert lines[0].startswith("✓ sandbox tenant contoso.com")
    assert any(line.startswith("✓ responders group ") and "3 members" in line for line in lines)
    assert code == 0


async def test_a_refused_area_is_reported_by_its_permission(runtime: Runtime,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    await _set_permissions(runtime, remove=["IdentityRiskyUser.ReadWrite.All", "IdentityRiskyUser.Read.All"])
    code, lines = await _doctor(runtime, capsys)
    assert code == 1
    assert _failed(lines) == [
        "✗ Identity Protection (IdentityRiskyUser.ReadWrite.All) — grant the application permission "
        "IdentityRiskyUser.ReadWrite.All and admin consent."]


async def test_exchange_without_manage_as_app_names_the_role_too(runtime: Runtime,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    await _set_permissions(runtime, remove=["Exchange.ManageAsApp"])
    code, lines = await _doctor(runtime, capsys)
    assert code == 1
    failed = _failed(lines)
    # One probe per Exchange role Contain needs: each fails the same way without the sign-in permission.
    assert len(failed) == 4
    for line in failed:
        assert line.startswith("✗ Exchange Online, ")
        assert "— grant the application permission Exchange.ManageAsApp" in line and "Exchange RBAC" in line


async def test_a_missing_exchange_role_is_named_by_the_probe_of_that_role(runtime: Runtime,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # Exchange answers a cmdlet outside the app's roles as "not recognized", not 403.
    await _set_permissions(runtime, removeExchangeRoles=["Audit Logs"])
    code, lines = await _doctor(runtime, capsys)
    assert code == 1
    assert _failed(lines) == [
        "✗ Exchange Online, Audit Logs role (Get-MailboxAuditBypassAssociation) (Exchange.ManageAsApp + Audit Logs) "
        "— assign the app the Exchange role Audit Logs (docs/permissions.md, Exchange RBAC for the app); "
        "assignments can take an hour to apply."]


async def test_a_second_permission_behind_a_read_is_named_itself(runtime: Runtime,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # OAuth grants name their apps through the service principal: without Application.Read.All the
    # grants read fails on that call, and the line names that permission, not the grants one.
    await _set_permissions(runtime, remove=["Application.Read.All"])
    code, lines = await _doctor(runtime, capsys)
    assert code == 1
    assert _failed(lines) == ["✗ OAuth grants (Application.Read.All) — grant the application permission "
                              "Application.Read.All and admin consent."]


async def test_without_user_read_the_account_reads_wait_for_it(runtime: Runtime,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    await _set_permissions(runtime, remove=["User.Read.All", "User.ReadWrite.All"])
    code, lines = await _doctor(runtime, capsys)
    failed = _failed(lines)
    assert code == 1
    assert failed[0] == "✗ Users (User.Read.All) — grant the application permission User.Read.All and admin consent."
    assert all(line.endswith("— fix the Users check first: this read needs an account to look at.")
               for line in failed[1:])
    assert {line.split(" (")[0] for line in failed[1:]} == {
        "✗ Sign-in logs", "✗ Non-interactive sign-ins", "✗ Last sign-in times", "✗ Method registrations",
        "✗ Identity Protection", "✗ Authentication methods", "✗ Default sign-in method", "✗ Mail rules",
        "✗ Directory roles", "✗ OAuth grants", "✗ Group membership"}


async def test_a_missing_licence_is_named_as_a_licence_not_a_permission(runtime: Runtime,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    runtime.sandbox.state.tenant["entraLicence"] = "P1"
    code, lines = await _doctor(runtime, capsys)
    assert code == 1
    assert _failed(lines) == ["✗ Identity Protection (IdentityRiskyUser.ReadWrite.All) — the tenant needs an Entra ID "
                              "P2 licence for this read."]
    assert "✓ Secure Score (SecurityEvents.Read.All)" in lines


async def test_json_report_has_one_entry_per_line(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    await _set_permissions(runtime, remove=["SecurityEvents.Read.All"])
    code, lines = await _doctor(runtime, capsys, as_json=True)
    report = json.loads("\n".join(lines))
    assert code == 1 and report["ok"] is False
    assert len(report["checks"]) == CHECKS_PER_RUN
    [failed] = [c for c in report["checks"] if not c["ok"]]
    assert failed["check"] == "Secure Score (SecurityEvents.Read.All)"
    assert failed["fix"] == "grant the application permission SecurityEvents.Read.All and admin consent."
    assert "403" in failed["detail"] or "SecurityEvents.Read.All" in failed["detail"]


async def test_unknown_responders_group_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot import build_runtime

    settings = load_settings({"CONTAIN_HOME": str(tmp_path / "home"),
                              "CONTAIN_RESPONDERS_GROUP_ID": "7b3e0f55-0000-4000-8000-000000000000"})
    async with build_runtime(settings) as runtime:
        code, lines = await _doctor(runtime, capsys)
    assert code == 1
    assert _failed(lines) == ["✗ responders group 7b3e0f55-0000-4000-8000-000000000000 — no such group: set "
                              "CONTAIN_RESPONDERS_GROUP_ID to an existing group's object id."]


# --- "real tenant" mode: tenant settings that happen to point at a sandbox ------------------------------

@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[SandboxServer]:
    server = SandboxServer(home=tmp_path / "sandbox-home", persist=False)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _tenant_settings(tmp_path: Path, sandbox: SandboxServer, *, secret: str | None = None) -> Settings:
    ep = sandbox.endpoints()
    login_host = ep.authority.rsplit("/", 1)[0]
    return load_settings({
        "CONTAIN_HOME": str(tmp_path / "home"), "CONTAIN_TENANT_ID": ep.tenant_id, "CONTAIN_CLIENT_ID": ep.client_id,
        "CONTAIN_CLIENT_SECRET": secret or ep.client_secret or "", "CONTAIN_AUTHORITY_HOST": login_host,
        "CONTAIN_GRAPH_URL": ep.graph_url, "CONTAIN_EXCHANGE_URL": ep.exchange_url,
        "CONTAIN_CA_BUNDLE": str(ep.ca_bundle)})


async def test_wrong_client_secret_fails_the_token_lines_without_showing_it(
        tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    from bot import build_runtime

    wrong = "Wr0ng~secret-value-that-must-not-print"
    async with build_runtime(_tenant_settings(tmp_path, sandbox, secret=wrong)) as runtime:
        code, lines = await _doctor(runtime, capsys)
        _, json_lines = await _doctor(runtime, capsys, as_json=True)
    assert code == 1
    token_lines = [line for line in lines if " token (" in line]
    assert len(token_lines) == 2 and all(line.startswith("✗ ") for line in token_lines)
    for line in token_lines:
        assert "(invalid_client) — check that CONTAIN_CLIENT_SECRET or CONTAIN_CERTIFICATE_PATH holds a current " \
               "credential of app registration" in line
        fix = line.split(" — ", 1)[1]
        assert fix.count(". ") == 0 and fix.endswith(".")
    assert "✗ Users (User.Read.All) — fix the Microsoft Graph token first." in lines
    everything = "\n".join(lines + json_lines)
    assert wrong not in everything and _secret_of_sandbox(sandbox) not in everything


def _secret_of_sandbox(sandbox: SandboxServer) -> str:
    secret = sandbox.endpoints().client_secret
    assert secret
    return secret


async def test_real_tenant_mode_requires_the_group_and_the_channel(
        tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    from bot import build_runtime

    async with build_runtime(_tenant_settings(tmp_path, sandbox)) as runtime:
        code, lines = await _doctor(runtime, capsys)
    assert code == 1
    assert lines[0].startswith(f"✓ tenant {sandbox.state.tenant_id}")
    assert _failed(lines) == [
        "✗ responders group — set CONTAIN_RESPONDERS_GROUP_ID to the object id of the Entra group whose members may "
        "act on incidents.",
        "✗ channel — run /compromised set-channel in the security channel, or set CONTAIN_CHANNEL_ID.",
    ]
    assert _secret_of_sandbox(sandbox) not in "\n".join(lines)


async def test_a_stored_channel_reference_satisfies_the_channel_check(runtime: Runtime) -> None:
    from services.store import conversations

    before = await doctor.check_channel(store=runtime.store, channel_id=None, required=True)
    # A channel the bot merely saw (a thread it was mentioned in) is not a chosen security channel.
    await conversations.save(runtime.store, key="19:other@thread.tacv2", kind=conversations.ConversationKind.CHANNEL,
                             reference={"conversation": {"id": "19:other@thread.tacv2"}}, team_id="team-1")
    seen_only = await doctor.check_channel(store=runtime.store, channel_id=None, required=True)
    await conversations.save(runtime.store, key=conversations.SECURITY_CHANNEL_KEY,
                             kind=conversations.ConversationKind.CHANNEL,
                             reference={"conversation": {"id": "19:abc@thread.tacv2"}}, team_id="team-1")
    after = await doctor.check_channel(store=runtime.store, channel_id=None, required=True)
    assert not before.ok and not seen_only.ok
    assert after.ok and "19:abc@thread.tacv2" in after.what


def test_every_permission_the_doctor_names_is_in_the_permissions_doc() -> None:
    text = (REPO / "docs" / "permissions.md").read_text()
    names = {part.strip() for area in doctor.areas(None) for part in area.permission.split("+")}
    names.discard("Exchange role")
    missing = sorted(n for n in names if n not in text)
    assert missing == []
