"""Graph as a real tenant answers it (issue 11): each test drives the real composition root against a sandbox
that behaves as Microsoft documents, and failed on the code before the fix.

Most run on the second fixture, sandbox/fixtures/fabrikam.json (docs/sandbox.md lists its accounts).
"""

from __future__ import annotations

import pytest

from services.actions import ACTIONS
from services.findings.investigation import NO_MAILBOX
from services.findings.resolve import resolve
from services.runtime import Runtime
from services.tenant.errors import PermissionDenied, TenantError
from services.vocabulary import ActionId, FindingKind, Resolved
from tests.services.tenant.helpers import grant as _permissions
from tests.services.tenant.helpers import investigate as _investigate

ALICE = "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"
CAROL = "ca201a5e-3d5e-4f70-9b2c-8d0e1f3a5b73"
DAVE = "da7e6b1c-4e6f-4081-ac3d-9e1f2a4b6c84"
RESPONDERS = "0d3f7c2a-6e1b-4a59-b8c4-2f7e9d1a3b60"
LENA = "1e7a3c5b-9d2f-4a6e-8b1c-5d7f9a2c4e60"
LENA_MOBILE = "3179e48a-750b-4051-897c-87b9720928f7"
LENA_ALTERNATE = "b6c8e0a2-4f6b-4d8c-8e0f-2a4c6e8a0b2d"
LENA_AUTHENTICATOR = "5a7c9e1b-3d5f-4a7b-9c1d-3e5f7a9b1c3d"
ATTACKER = "192.0.2.66"





def _routes(runtime: Runtime) -> list[str]:
    return [r.route for r in runtime.sandbox.request_log]


# --- 1. app consents --------------------------------------------------------------------------------

async def test_app_consents_are_read_through_the_principal_filter_the_user_route_refuses_apps(
        runtime: Runtime) -> None:
    grants = await runtime.tenant.list_oauth_grants(user_id=ALICE)
    assert [g.scopes for g in grants] == [("Mail.ReadWrite", "offline_access")]
    assert "GET /oauth2PermissionGrants" in _routes(runtime)
    assert "GET /users/{id}/oauth2PermissionGrants" not in _routes(runtime)


# --- 6. authentication methods dated by the directory audit log -------------------------------------

async def test_a_phone_method_without_a_date_is_flagged_from_the_audit_log(fabrikam: Runtime) -> None:
    inv = await _investigate(fabrikam, "lena@fabrikam.com")
    added = next(f for f in inv.findings if f.kind is FindingKind.MFA_METHOD_ADDED)
    assert {m["id"] for m in added.details["methods"]} == {LENA_MOBILE, LENA_ALTERNATE}
    assert any(ATTACKER in line for line in added.evidence)
    assert ActionId.RESET_MFA in inv.recommended_actions
    methods = await fabrikam.tenant.list_auth_methods(user_id=LENA)
    phone = next(m for m in methods if m.id == LENA_MOBILE)
    assert phone.created is None and "ipAddress" not in phone.raw  # Graph has neither: the audit log does


# --- 7. non-interactive sign-ins ----------------------------------------------------------------------

async def test_token_replay_shows_only_in_non_interactive_sign_ins_and_the_card_says_what_was_read(
        fabrikam: Runtime) -> None:
    inv = await _investigate(fabrikam, "lena@fabrikam.com")
    signin = next(f for f in inv.findings if f.kind is FindingKind.SUSPICIOUS_SIGNIN)
    assert ATTACKER in signin.details["attackerIps"]
    assert "Sign-ins read: interactive and non-interactive." in inv.notes
    v1 = await fabrikam.tenant.list_sign_ins(user_principal_name="lena@fabrikam.com")
    assert v1 and all(s.interactive and s.ip_address != ATTACKER for s in v1)


# --- 8. permissions, roles and licences as Graph enforces them ----------------------------------------

async def test_without_p1_the_state_is_read_again_without_sign_in_activity_and_the_gap_says_why(
        fabrikam: Runtime) -> None:
    fabrikam.sandbox.state.tenant["entraLicence"] = "free"
    inv = await _investigate(fabrikam, "sean.o'brien@fabrikam.com")
    assert "Could not read the account's last sign-in times: the tenant has no Entra ID P1 licence." in inv.gaps
    assert "Could not read interactive sign-ins: the tenant has no Entra ID P1 licence." in inv.gaps
    assert inv.user.display_name == "Sean O'Brien"  # the state itself was read


async def test_risk_without_p2_is_one_sentence_naming_the_licence(fabrikam: Runtime) -> None:
    inv = await _investigate(fabrikam, "lena@fabrikam.com")
    assert "Could not read Identity Protection risk: the tenant has no Entra ID P2 licence." in inv.gaps


async def test_check_member_groups_needs_user_read_and_group_member_read_together(runtime: Runtime) -> None:
    assert await runtime.tenant.is_member_of_group(user_id=DAVE, group_id=RESPONDERS)
    await _permissions(runtime, remove=["User.Read.All", "User.ReadWrite.All"])
    with pytest.raises(PermissionDenied) as refused:
        await runtime.tenant.is_member_of_group(user_id=DAVE, group_id=RESPONDERS)
    assert "User.Read.All and GroupMember.Read.All" in refused.value.sentence


async def test_blocking_an_admin_needs_the_privileged_authentication_administrator_role(fabrikam: Runtime) -> None:
    with pytest.raises(PermissionDenied) as refused:
        await fabrikam.tenant.set_account_enabled(user_id="8e1b4d7a-0c3f-4b6e-9d2a-5f8c1e4b7d03", enabled=False)
    assert "Privileged Authentication Administrator" in refused.value.sentence
    # a member who holds no role is blocked with the permission alone
    await fabrikam.tenant.set_account_enabled(user_id="4f7b0d3e-6a9c-4e2f-8c5b-0e3a6d9f2c58", enabled=False)


async def test_roles_read_without_a_role_permission_have_no_names_and_the_card_says_so(runtime: Runtime) -> None:
    await _permissions(runtime, remove=["RoleManagement.ReadWrite.Directory", "RoleManagement.Read.Directory"])
    inv = await _investigate(runtime, "carol")
    assert inv.is_admin
    assert any("names of the account's directory roles" in g and "RoleManagement.Read.Directory" in g
               for g in inv.gaps)


# --- 11. accounts real tenants have ---------------------------------------------------------------------

async def test_a_synced_account_carries_the_sync_caution_for_block_and_password(fabrikam: Runtime) -> None:
    inv = await _investigate(fabrikam, "lena@fabrikam.com")
    assert "undone by the next directory sync" in inv.cautions[ActionId.BLOCK_SIGNIN.value]
    assert "password writeback" in inv.cautions[ActionId.RESET_PASSWORD.value]
    federated = await _investigate(fabrikam, "ken@corp.fabrikam.com")
    assert "federated domain corp.fabrikam.com" in federated.cautions[ActionId.RESET_PASSWORD.value]


async def test_a_guest_without_a_mailbox_gets_one_line_not_six_read_errors(fabrikam: Runtime) -> None:
    inv = await _investigate(fabrikam, "partner_contoso.com#EXT#@fabrikam.onmicrosoft.com")
    assert NO_MAILBOX in inv.notes
    assert not [g for g in inv.gaps if "mail" in g.lower() or "inbox" in g.lower() or "Send As" in g]
    assert ActionId.RESET_PASSWORD.value in inv.cautions


@pytest.mark.parametrize("who", ["sean.o'brien@fabrikam.com", "O'Brien", "$backup@fabrikam.com"])
async def test_upns_with_a_quote_or_a_leading_dollar_resolve_and_investigate(fabrikam: Runtime, who: str) -> None:
    resolved = await resolve(fabrikam.tenant, who)
    assert isinstance(resolved, Resolved), resolved
    inv = await _investigate(fabrikam, who)
    assert [g for g in inv.gaps if "P2" not in g] == []


async def test_reset_mfa_moves_the_default_off_and_deletes_alternate_mobile_before_mobile(
        fabrikam: Runtime) -> None:
    """Graph refuses to delete the default method while others remain, and a mobile number while an
    alternate mobile remains; the attacker made their phone the default."""
    from services.actions.base import ActionContext
    from services.vocabulary import UserRef

    user = UserRef(id=LENA, user_principal_name="lena@fabrikam.com", display_name="Lena Fischer")
    inv = await _investigate(fabrikam, "lena@fabrikam.com")
    signin = next(f for f in inv.findings if f.kind is FindingKind.SUSPICIOUS_SIGNIN)
    from services.actions.base import parse_iso

    ctx = ActionContext(tenant=fabrikam.tenant, user=user, since=inv.investigated_at or parse_iso("2020-01-01"),
                        cutoff=parse_iso(signin.details["firstSuspicious"]),
                        options={"attacker_ips": signin.details["attackerIps"]})
    action = ACTIONS[ActionId.RESET_MFA]
    before = await action.snapshot(ctx)
    applied = await action.apply(ctx, before)
    assert applied.error is None, applied.error
    assert await action.verify(ctx, before)
    left = {m.id for m in await fabrikam.tenant.list_auth_methods(user_id=LENA)}
    assert LENA_AUTHENTICATOR in left and not {LENA_MOBILE, LENA_ALTERNATE} & left
    writes = [(w.route, w.target) for w in fabrikam.sandbox.write_log]
    assert writes[0][0] == "PATCH /users/{id}/authentication/signInPreferences"
    assert [t for _, t in writes[1:]] == [f"{LENA}/{LENA_ALTERNATE}", f"{LENA}/{LENA_MOBILE}"]


async def test_the_sandbox_refuses_the_default_method_and_a_mobile_before_its_alternate(fabrikam: Runtime) -> None:
    with pytest.raises(TenantError) as refused:
        await fabrikam.tenant.delete_auth_method(user_id=LENA, method_type="phone", method_id=LENA_MOBILE)
    assert refused.value.status == 400 and "default method" in refused.value.sentence
    await fabrikam.tenant.set_default_method(user_id=LENA, method="push")
    with pytest.raises(TenantError) as refused:
        await fabrikam.tenant.delete_auth_method(user_id=LENA, method_type="phone", method_id=LENA_MOBILE)
    assert "alternateMobile" in refused.value.sentence
