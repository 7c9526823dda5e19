"""Scenario tests: resolve and investigate through the real composition root (MSAL, msgraph-sdk, the
Exchange client) against the sandbox tenant on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from services.actions import catalog
from services.findings.investigation import investigate, investigate_query
from services.findings.resolve import resolve
from services.runtime import Runtime
from services.tenant.errors import TenantError
from services.vocabulary import ActionId, Ambiguous, FindingKind, Impact, Investigation, NotFound, Resolved, Severity

ALICE_KINDS = set(FindingKind) - {FindingKind.ADMIN_ROLE, FindingKind.ACCOUNT_DISABLED, FindingKind.NO_MFA}


async def _investigate(runtime: Runtime, who: str) -> Investigation:
    result = await investigate_query(tenant=runtime.tenant, query=who)
    assert isinstance(result, Investigation), result
    return result


async def test_alice_shows_every_expected_finding_kind(runtime: Runtime) -> None:
    inv = await _investigate(runtime, "alice")
    assert inv.gaps == ()
    assert {f.kind for f in inv.findings} == ALICE_KINDS
    assert inv.risk_level == "high" and inv.risk_state == "atRisk"
    assert inv.recommended_actions[:2] == (ActionId.RESET_PASSWORD, ActionId.REVOKE_SESSIONS)
    assert ActionId.DISABLE_LEGACY_PROTOCOLS in inv.recommended_actions
    ranks = [f.severity.rank for f in inv.findings]
    assert ranks == sorted(ranks, reverse=True)


async def test_alice_evidence_points_at_the_attacker(runtime: Runtime) -> None:
    inv = await _investigate(runtime, "alice")
    signin = next(f for f in inv.findings if f.kind is FindingKind.SUSPICIOUS_SIGNIN)
    method = next(f for f in inv.findings if f.kind is FindingKind.MFA_METHOD_ADDED)
    assert signin.details["attackerIps"]
    assert method.severity is Severity.HIGH
    hidden = next(f for f in inv.findings if f.kind is FindingKind.INBOX_RULE_HIDDEN)
    assert hidden.details["exchangeIdentity"]


async def test_bob_has_nothing_above_low(runtime: Runtime) -> None:
    inv = await _investigate(runtime, "bob")
    assert inv.gaps == ()
    assert [f for f in inv.findings if f.severity.rank > Severity.LOW.rank] == []
    assert inv.recommended_actions == ()


async def test_carol_holds_an_admin_role(runtime: Runtime) -> None:
    inv = await _investigate(runtime, "carol")
    assert FindingKind.ADMIN_ROLE in {f.kind for f in inv.findings}
    assert inv.is_admin


async def test_upn_and_display_name_resolve_to_the_same_account(runtime: Runtime) -> None:
    by_upn = await resolve(runtime.tenant, "alice@contoso.com")
    by_name = await resolve(runtime.tenant, "Alice")
    assert isinstance(by_upn, Resolved) and isinstance(by_name, Resolved)
    assert by_upn.user.id == by_name.user.id
    full = await resolve(runtime.tenant, by_upn.user.display_name)
    assert isinstance(full, Resolved) and full.user.id == by_upn.user.id


async def test_one_letter_lists_candidates(runtime: Runtime) -> None:
    result = await resolve(runtime.tenant, "a")
    assert isinstance(result, Ambiguous)
    assert result.candidates
    assert all(u.display_name.lower().startswith("a") or u.user_principal_name.startswith("a")
               or any(w.lower().startswith("a") for w in u.display_name.split()) for u in result.candidates)


async def test_unknown_name_is_not_found(runtime: Runtime) -> None:
    assert isinstance(await resolve(runtime.tenant, "zebediah"), NotFound)
    assert isinstance(await resolve(runtime.tenant, "nobody@contoso.com"), NotFound)


async def test_odata_injection_neither_breaks_nor_widens(runtime: Runtime) -> None:
    for attempt in ("alice' or startswith(displayName,'", "x' or 1 eq 1 or mail eq 'y", "o'brien",
                    "alice@contoso.com' or userPrincipalName ne '", "bob') or (1 eq 1", "*", "alice\" OR \"b"):
        result = await resolve(runtime.tenant, attempt)
        assert isinstance(result, NotFound | Ambiguous | Resolved)
        if isinstance(result, Ambiguous):
            raise AssertionError(f"{attempt!r} widened to {[u.user_principal_name for u in result.candidates]}")
        assert isinstance(result, NotFound), (attempt, result)


async def test_control_characters_are_refused_before_any_call(runtime: Runtime) -> None:
    before = len(runtime.sandbox.request_log)
    assert isinstance(await resolve(runtime.tenant, "alice\x00"), NotFound)
    assert isinstance(await resolve(runtime.tenant, "a" * 300), NotFound)
    assert len(runtime.sandbox.request_log) == before


async def test_investigation_reads_concurrently_and_writes_nothing(runtime: Runtime) -> None:
    resolution = await resolve(runtime.tenant, "alice")
    assert isinstance(resolution, Resolved)
    writes = len(runtime.sandbox.write_log)
    await investigate(tenant=runtime.tenant, user=resolution.user)
    assert len(runtime.sandbox.write_log) == writes


async def test_roles_that_cannot_be_read_make_every_action_need_a_second_responder(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown admin status is treated as admin: a failed roles read must not let a standard action on a
    possible Global Administrator run on one responder's say."""
    resolution = await resolve(runtime.tenant, "bob")
    assert isinstance(resolution, Resolved)

    async def refused(*, user_id: str) -> Any:
        raise TenantError("Graph refused reading the account's directory roles (503).", status=503)

    monkeypatch.setattr(runtime.tenant, "list_admin_roles", refused)
    inv = await investigate(tenant=runtime.tenant, user=resolution.user)
    assert inv.is_admin and inv.admin_unknown
    assert any("treated as high impact" in g for g in inv.gaps)
    assert catalog.impact(ActionId.REVOKE_SESSIONS, target_is_admin=inv.is_admin) is Impact.HIGH
    assert inv.to_json()["adminUnknown"] is True
