"""docs/permissions.md lists every endpoint Contain calls.

The sandbox records the route template of every request it serves (`GET /users/{id}`,
`EXO Get-Mailbox`). These tests drive real flows against it — an investigation, every Tenant
operation, the doctor, a remediation of every action plus the Secure Score summary — and check
each recorded route against the document's endpoint column. The last tests prove the checker can
fail: drop a row from the document and the endpoint it listed is reported.
"""

from __future__ import annotations

import argparse
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.findings.investigation import investigate_query
from services.runtime import Runtime
from services.tenant.directory import METHOD_COLLECTIONS
from services.tenant.errors import TenantError
from services.tenant.facade import Tenant
from services.vocabulary import ActionId, Investigation

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
NOT_TENANT_CALLS = ("LOGIN ", "ADMIN ")  # the identity platform and the sandbox's own admin API

ALICE = "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"
ALICE_UPN = "alice@contoso.com"
CAROL = "ca201a5e-3d5e-4f70-9b2c-8d0e1f3a5b73"
DAVE = "da7e6b1c-4e6f-4081-ac3d-9e1f2a4b6c84"
GLOBAL_ADMIN_ROLE = "7b1c9e3a-2d4f-4e6b-8a5c-0f9d7e3b1a26"
RESPONDERS = "0d3f7c2a-6e1b-4a59-b8c4-2f7e9d1a3b60"
ATTACKER_GRANT = "w6nwbUdh3kyC0r6hY2pTXn3Fm8oZ1k2v"
DELEGATE = "support.desk@contoso.com"


# --- the checker ------------------------------------------------------------------------------------

def normalise(route: str) -> str:
    """One spelling per endpoint: `METHOD /path` with every `{placeholder}` as `{id}`, no query string,
    type casts as `microsoft.graph.X` (the SDK sends `graph.X`; Graph accepts both); `EXO Cmdlet` as is."""
    route = " ".join(route.split())
    if route.startswith("EXO "):
        return route
    route = route.split("?", 1)[0].rstrip("/")
    route = re.sub(r"\{[^}/]*\}", "{id}", route)
    return re.sub(r"/(?:microsoft\.)?graph\.", "/microsoft.graph.", route)


def documented_endpoints(markdown: str) -> set[str]:
    """Every backticked entry of every table's `endpoint` column, normalised."""
    found: set[str] = set()
    column: int | None = None
    for line in markdown.splitlines():
        if not line.lstrip().startswith("|"):
            column = None  # a table ended
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "endpoint" in cells:
            column = cells.index("endpoint")
            continue
        if column is None or column >= len(cells) or set(cells[column]) <= set("-: "):
            continue
        found.update(normalise(code) for code in re.findall(r"`([^`]+)`", cells[column]))
    return found


def undocumented(called: Iterable[str], documented: set[str]) -> list[str]:
    """Routes the sandbox served that the document does not list (sorted, each once)."""
    routes = {normalise(r) for r in called if not r.startswith(NOT_TENANT_CALLS)}
    return sorted(routes - documented)


def served_routes(runtime: Runtime, since: int = 0) -> list[str]:
    return [r.route for r in runtime.sandbox.request_log[since:] if not r.route.startswith(NOT_TENANT_CALLS)]


def _doc() -> set[str]:
    return documented_endpoints(DOC.read_text())


# --- flows ------------------------------------------------------------------------------------------

async def _investigate_alice(runtime: Runtime) -> list[str]:
    result = await investigate_query(tenant=runtime.tenant, query="alice")
    assert isinstance(result, Investigation) and result.findings
    return served_routes(runtime)


def _fresh(runtime: Runtime) -> Tenant:
    # A Tenant without caches (domains, app names), so every operation really reaches the service.
    return Tenant(graph=runtime.tenant.graph, exchange=runtime.exchange, endpoints=runtime.endpoints)


async def _hidden_rule(t: Tenant) -> str:
    rules = await t.list_inbox_rules_exchange(mailbox=ALICE_UPN)
    return next((r.id for r in rules if r.hidden), rules[0].id)


async def _audit_query(t: Tenant) -> str:
    now = datetime.now(UTC)
    return (await t.create_audit_query(display_name="doc check", start=now - timedelta(days=7), end=now,
                                       user_principal_names=[ALICE_UPN])).id


async def _then(first: Awaitable[str], then: Callable[[str], Awaitable[Any]]) -> Any:
    return await then(await first)


Op = Callable[[Tenant], Awaitable[Any]]

# Every public Tenant operation, reads before the writes that change what they read.
TENANT_OPERATIONS: dict[str, Op] = {
    "find_users_by_address": lambda t: t.find_users_by_address(address=ALICE_UPN),
    "search_users": lambda t: t.search_users(name="Alice"),
    "list_users_starting_with": lambda t: t.list_users_starting_with(prefix="a"),
    "get_user": lambda t: t.get_user(user_id=ALICE),
    "get_user_state": lambda t: t.get_user_state(user_id=ALICE),
    "default_domain": lambda t: t.default_domain(),
    "verified_domains": lambda t: t.verified_domains(),
    "is_member_of_group": lambda t: t.is_member_of_group(user_id=DAVE, group_id=RESPONDERS),
    "list_sign_ins": lambda t: t.list_sign_ins(user_principal_name=ALICE_UPN),
    "list_non_interactive_sign_ins": lambda t: t.list_non_interactive_sign_ins(user_principal_name=ALICE_UPN),
    "list_method_registrations": lambda t: t.list_method_registrations(
        user_id=ALICE, since=datetime.now(UTC) - timedelta(days=30)),
    "get_sign_in_preferences": lambda t: t.get_sign_in_preferences(user_id=ALICE),
    "get_risky_user": lambda t: t.get_risky_user(user_id=ALICE),
    "list_risky_users": lambda t: t.list_risky_users(),
    "list_auth_methods": lambda t: t.list_auth_methods(user_id=ALICE),
    "list_admin_roles": lambda t: t.list_admin_roles(user_id=CAROL),
    "list_oauth_grants": lambda t: t.list_oauth_grants(user_id=ALICE),
    "list_inbox_rules": lambda t: t.list_inbox_rules(user_id=ALICE),
    "list_inbox_rules_exchange": lambda t: t.list_inbox_rules_exchange(mailbox=ALICE_UPN),
    "get_mailbox": lambda t: t.get_mailbox(mailbox=ALICE_UPN),
    "list_mailbox_permissions": lambda t: t.list_mailbox_permissions(mailbox=ALICE_UPN),
    "list_recipient_permissions": lambda t: t.list_recipient_permissions(mailbox=ALICE_UPN),
    "list_blocked_senders": lambda t: t.list_blocked_senders(),
    "get_organization_config": lambda t: t.get_organization_config(),
    "get_audit_bypass": lambda t: t.get_audit_bypass(mailbox=ALICE_UPN),
    "get_recipient": lambda t: t.get_recipient(identity=DELEGATE),
    "get_cas_mailbox": lambda t: t.get_cas_mailbox(mailbox=ALICE_UPN),
    "list_secure_scores": lambda t: t.list_secure_scores(),
    "list_control_profiles": lambda t: t.list_control_profiles(),
    "list_alerts": lambda t: t.list_alerts(),
    "create_audit_query": _audit_query,
    "get_audit_query": lambda t: _then(_audit_query(t), lambda qid: t.get_audit_query(query_id=qid)),
    "list_audit_records": lambda t: _then(_audit_query(t), lambda qid: t.list_audit_records(query_id=qid)),
    # writes
    "confirm_compromised": lambda t: t.confirm_compromised(user_id=ALICE),
    "dismiss_risk": lambda t: t.dismiss_risk(user_id=ALICE),
    "delete_auth_method": lambda t: t.delete_auth_method(user_id=ALICE, method_type="microsoftAuthenticator",
                                                         method_id="6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d90"),
    "set_default_method": lambda t: t.set_default_method(user_id=ALICE, method="push"),
    "remove_admin_role": lambda t: t.remove_admin_role(role_id=GLOBAL_ADMIN_ROLE, user_id=CAROL),
    "delete_oauth_grant": lambda t: t.delete_oauth_grant(grant_id=ATTACKER_GRANT),
    "revoke_sessions": lambda t: t.revoke_sessions(user_id=ALICE),
    "set_account_enabled": lambda t: t.set_account_enabled(user_id=ALICE, enabled=False),
    "set_password": lambda t: t.set_password(user_id=ALICE, password="Doc-check-9f!Qz7#long"),
    "set_inbox_rule_enabled": lambda t: t.set_inbox_rule_enabled(user_id=ALICE, rule_id="AQAAAKT6cCo=",
                                                                 enabled=False),
    "delete_inbox_rule": lambda t: t.delete_inbox_rule(user_id=ALICE, rule_id="AQAAAKT6cC0="),
    "disable_inbox_rule_exchange": lambda t: _with_hidden(t, t.disable_inbox_rule_exchange),
    "enable_inbox_rule_exchange": lambda t: _with_hidden(t, t.enable_inbox_rule_exchange),
    "remove_inbox_rule_exchange": lambda t: _with_hidden(t, t.remove_inbox_rule_exchange),
    "set_mailbox": lambda t: t.set_mailbox(mailbox=ALICE_UPN, DeliverToMailboxAndForward=False),
    "clear_forwarding": lambda t: t.clear_forwarding(mailbox=ALICE_UPN),
    "set_audit_bypass": lambda t: t.set_audit_bypass(mailbox=ALICE_UPN, enabled=False),
    "remove_send_on_behalf": lambda t: t.remove_send_on_behalf(mailbox=ALICE_UPN, principals=[DELEGATE]),
    "remove_mailbox_permission": lambda t: t.remove_mailbox_permission(mailbox=ALICE_UPN, user=DELEGATE,
                                                                       access_rights=["FullAccess"]),
    "remove_recipient_permission": lambda t: t.remove_recipient_permission(mailbox=ALICE_UPN, trustee=DELEGATE,
                                                                           access_rights=["SendAs"]),
    "remove_blocked_sender": lambda t: t.remove_blocked_sender(sender_address=ALICE_UPN),
    "set_cas_mailbox": lambda t: t.set_cas_mailbox(mailbox=ALICE_UPN, imap=False, pop=False),
}
NOT_OPERATIONS = {"close"}


async def _with_hidden(t: Tenant, op: Callable[..., Awaitable[Any]]) -> Any:
    return await op(mailbox=ALICE_UPN, identity=await _hidden_rule(t))


def public_tenant_operations() -> set[str]:
    return {name for name, fn in inspect.getmembers(Tenant, inspect.iscoroutinefunction)
            if not name.startswith("_") and name not in NOT_OPERATIONS}


async def _every_tenant_operation(runtime: Runtime) -> list[str]:
    """Run each operation once, in order; each must reach the tenant at least once."""
    silent = []
    for name, op in TENANT_OPERATIONS.items():
        before = len(runtime.sandbox.request_log)
        try:
            await op(_fresh(runtime))
        except TenantError:
            pass  # a refusal still shows which endpoint was called
        if not served_routes(runtime, before):
            silent.append(name)
    assert silent == [], "these operations made no call, so the test cannot see their endpoints"
    return served_routes(runtime)


# --- tests ------------------------------------------------------------------------------------------

async def test_investigation_of_alice_calls_only_documented_endpoints(runtime: Runtime) -> None:
    called = await _investigate_alice(runtime)
    assert "EXO Get-InboxRule" in called and "GET /users/{id}" in called
    assert undocumented(called, _doc()) == []


async def test_every_tenant_operation_calls_only_documented_endpoints(runtime: Runtime) -> None:
    # A new Tenant operation must be added to TENANT_OPERATIONS, or this fails.
    assert set(TENANT_OPERATIONS) == public_tenant_operations()
    called = await _every_tenant_operation(runtime)
    assert undocumented(called, _doc()) == []


def test_every_authentication_method_type_contain_deletes_is_documented() -> None:
    # Only one type is deleted above; the others share the code path but not the endpoint.
    routes = {f"DELETE /users/{{id}}/authentication/{kind}Methods/{{id}}" for kind in METHOD_COLLECTIONS}
    assert undocumented(routes, _doc()) == []


async def test_doctor_calls_only_documented_endpoints(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    from dialogs.terminal.doctor import handler

    await handler(argparse.Namespace(json=False), runtime)
    capsys.readouterr()
    called = served_routes(runtime)
    assert "GET /groups/{id}/transitiveMembers" in called
    assert undocumented(called, _doc()) == []


# Every action, spread over runs that do not contradict each other (block and unblock in one run). One
# signed-in responder runs the high-impact ones too, under break-glass.
GLASS = ["--break-glass", "--reason", "Every action, for the permissions page"]
REMEDIATIONS = (
    ["remediate", "alice", "--action", ",".join(a.value for a in ActionId if a not in (
        ActionId.UNBLOCK_SIGNIN, ActionId.DISMISS_RISK, ActionId.REMOVE_ADMIN_ROLES)), "--yes", "--json", *GLASS],
    ["remediate", "alice", "--action", f"{ActionId.UNBLOCK_SIGNIN.value},{ActionId.DISMISS_RISK.value}",
     "--yes", "--json", *GLASS],
    ["remediate", "carol", "--action", ActionId.REMOVE_ADMIN_ROLES.value, "--yes", "--json", *GLASS],
    ["score", "--json"],
)


def _cli(argv: list[str]) -> argparse.Namespace | None:
    """The parsed command, or None while the command is still a placeholder (it takes no options)."""
    from dialogs.terminal.cli import parser as _parser

    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if commands.choices[argv[0]].get_default("needs_runtime") is False:
        return None
    return parser.parse_args(argv)


async def test_remediation_of_every_action_and_the_summary_call_only_documented_endpoints(
        runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    """Through the CLI (`contain remediate ... --yes --json`, `contain score --json`). While those
    commands are still placeholders, the writes the actions will make are the Tenant operations, and
    those are driven here instead — never a skip."""
    requested = {a for argv in REMEDIATIONS if argv[0] == "remediate" for a in argv[3].split(",")}
    assert requested == {a.value for a in ActionId}
    runs = [_cli(argv) for argv in REMEDIATIONS]
    if None in runs:
        called = await _every_tenant_operation(runtime)
    else:
        from tests.dialogs.terminal.conftest import DAVE, login

        runtime.sandbox.authority.device_codes.interval_s = 1  # type: ignore[union-attr]
        assert await login(runtime, DAVE) == 0
        for args in runs:
            assert args is not None
            await args.handler(args, runtime)
        capsys.readouterr()  # the temporary password is in there; it goes nowhere else
        called = served_routes(runtime)
        writes = {w.route for w in runtime.sandbox.write_log}
        assert "PATCH /users/{id}" in writes and "EXO Set-Mailbox" in writes
    assert undocumented(called, _doc()) == []


# --- the checker can fail -----------------------------------------------------------------------------

def _without_rows_for(markdown: str, endpoint: str) -> str:
    lines = markdown.splitlines()
    kept = [line for line in lines
            if not (line.lstrip().startswith("|") and any(normalise(c) == endpoint
                                                          for c in re.findall(r"`([^`]+)`", line)))]
    assert len(kept) < len(lines), f"no row lists {endpoint}"
    return "\n".join(kept)


async def test_dropping_any_called_endpoint_from_the_doc_is_reported(runtime: Runtime) -> None:
    called = await _investigate_alice(runtime)
    text = DOC.read_text()
    assert undocumented(called, documented_endpoints(text)) == []
    endpoints = sorted({normalise(r) for r in called})
    assert len(endpoints) >= 10
    for endpoint in endpoints:
        assert undocumented(called, documented_endpoints(_without_rows_for(text, endpoint))) == [endpoint]


def test_normalise_spells_sandbox_templates_like_the_doc() -> None:
    assert normalise("DELETE /directoryRoles/{roleId}/members/{userId}/$ref") == \
        "DELETE /directoryRoles/{id}/members/{id}/$ref"
    assert normalise("GET /users/{id}/memberOf/graph.directoryRole") == \
        "GET /users/{id}/memberOf/microsoft.graph.directoryRole"
    assert normalise("GET /users?$filter=mail eq 'x'") == "GET /users"
    assert normalise("EXO Get-InboxRule") == "EXO Get-InboxRule"
    # a path the sandbox did not recognise keeps its literal ids, so it never matches a template
    assert undocumented(["GET /users/a11ce5a0/unknownThing"], _doc()) == ["GET /users/a11ce5a0/unknownThing"]


# --- the sandbox apps hold exactly what this page lists -------------------------------------------------

PERMISSION = re.compile(r"\b[A-Z][A-Za-z]*(?:-[A-Za-z]+)?(?:\.[A-Z][A-Za-z]*)+\b")


def documented_permissions(markdown: str) -> set[str]:
    """Every permission named in the `least application permission` columns, a read dropped where its
    read-write twin is listed too (the twin covers it)."""
    found: set[str] = set()
    column: int | None = None
    for line in markdown.splitlines():
        if not line.lstrip().startswith("|"):
            column = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "least application permission" in cells:
            column = cells.index("least application permission")
            continue
        if column is None or column >= len(cells) or set(cells[column]) <= set("-: "):
            continue
        found.update(PERMISSION.findall(cells[column]))
    return {p for p in found if p.replace(".Read", ".ReadWrite", 1) == p or p.replace(".Read", ".ReadWrite", 1)
            not in found}


@pytest.mark.parametrize("fixture", ["contoso.json", "fabrikam.json"])
def test_each_sandbox_app_holds_exactly_the_documented_permissions(fixture: str) -> None:
    import json

    app = json.loads((DOC.parents[1] / "sandbox" / "fixtures" / fixture).read_text())["apps"][0]
    assert set(app["permissions"]) == documented_permissions(DOC.read_text())


def documented_exchange_roles(markdown: str) -> set[str]:
    """The roles of the summary's `Exchange management roles for the service principal (…): A, B, C.` line."""
    text = " ".join(markdown.split())
    found = re.search(r"Exchange management roles for the service principal \([^)]*\): ([^.]+)\.", text)
    assert found, "docs/permissions.md lists no Exchange management roles"
    return {r.strip() for r in found.group(1).split(",")}


@pytest.mark.parametrize("fixture", ["contoso.json", "fabrikam.json"])
def test_each_sandbox_app_holds_exactly_the_documented_exchange_roles(fixture: str) -> None:
    import json

    app = json.loads((DOC.parents[1] / "sandbox" / "fixtures" / fixture).read_text())["apps"][0]
    assert set(app["exchangeRoles"]) == documented_exchange_roles(DOC.read_text())
    from services.tenant.exchange import CMDLET_ROLES
    assert set(CMDLET_ROLES.values()) == documented_exchange_roles(DOC.read_text())
