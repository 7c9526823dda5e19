"""Exchange Online as a real tenant answers it (issue 11 items 2-5, 9, 12; issue 12's mail side): each test
drives the real composition root against a sandbox that behaves as Exchange documents, and failed on the
code before the fix. Fabrikam's sean.o'brien forwards to a mail contact and lets a mail user send on his
behalf; alice (contoso) has automatic replies and an audit bypass."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.runtime import Runtime
from services.tenant.errors import PermissionDenied, TenantError
from services.vocabulary import ActionId, ActionStatus, FindingKind, Investigation, Severity
from tests.services.actions.helpers import incident_for, run, user, writes
from tests.services.tenant.helpers import grant as _exchange_roles
from tests.services.tenant.helpers import investigate as _investigate

SEAN = "sean.o'brien@fabrikam.com"





def _of(inv: Investigation, kind: FindingKind) -> list[Any]:
    return [f for f in inv.findings if f.kind is kind]


# --- 2. Exchange's own inbox rules ------------------------------------------------------------------

async def test_junk_and_automatic_reply_rules_are_not_hidden_rule_findings(runtime: Runtime) -> None:
    inv = await _investigate(runtime, "alice@contoso.com")
    hidden = _of(inv, FindingKind.INBOX_RULE_HIDDEN)
    assert [f.details["name"] for f in hidden] == ["RSS"]
    rules = await runtime.tenant.list_inbox_rules_exchange(mailbox="alice@contoso.com")
    assert {r.name for r in rules if r.system} == {"Junk E-Mail Rule", "Microsoft.Exchange.OOF.KnownSenders.Template",
                                                   "Microsoft.Exchange.OOF.AllExternalSenders.Template"}


async def test_disable_inbox_rules_never_touches_automatic_replies(runtime: Runtime) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    [result] = await run(runtime, incident, alice, [ActionId.DISABLE_INBOX_RULES])
    assert result.status is ActionStatus.SUCCEEDED and result.verified
    rules = runtime.sandbox.state.mailbox(alice.id)["inboxRules"]  # type: ignore[index]
    assert all(r["enabled"] for r in rules if r["name"].startswith("Microsoft.Exchange.OOF.")
               or r["name"] == "Junk E-Mail Rule")


# --- 3. mailbox audit under default auditing ----------------------------------------------------------

async def test_audit_enabled_false_alone_is_not_audit_off_but_the_bypass_is(runtime: Runtime) -> None:
    bob = await _investigate(runtime, "bob@contoso.com")
    assert not _of(bob, FindingKind.MAILBOX_AUDIT_OFF)  # AuditEnabled False, default auditing on
    [audit] = _of(await _investigate(runtime, "alice@contoso.com"), FindingKind.MAILBOX_AUDIT_OFF)
    assert audit.targets == ("auditBypass",)


async def test_enable_mailbox_audit_ends_the_bypass_and_verifies_it(runtime: Runtime) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    [result] = await run(runtime, incident, alice, [ActionId.ENABLE_MAILBOX_AUDIT])
    assert (result.status, result.verified) == (ActionStatus.SUCCEEDED, True), result.detail
    assert runtime.sandbox.state.mailbox(alice.id)["auditBypassEnabled"] is False  # type: ignore[index]
    assert [w.route for w in writes(runtime)] == ["EXO Set-MailboxAuditBypassAssociation"]
    assert not _of(await _investigate(runtime, "alice@contoso.com"), FindingKind.MAILBOX_AUDIT_OFF)


async def test_organisation_audit_off_is_said_in_one_sentence_not_skipped(runtime: Runtime) -> None:
    runtime.sandbox.state.data["organizationConfig"]["AuditDisabled"] = True
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    [result] = await run(runtime, incident, alice, [ActionId.ENABLE_MAILBOX_AUDIT])
    # The bypass is ended, the organisation's switch is not Contain's to flip: partial, with the sentence.
    assert result.status is ActionStatus.PARTIAL
    assert runtime.sandbox.state.mailbox(alice.id)["auditBypassEnabled"] is False  # type: ignore[index]
    assert "only an organisation-wide change" in result.detail and result.detail.count(".") == 1
    [again] = await run(runtime, incident, alice, [ActionId.ENABLE_MAILBOX_AUDIT])
    assert (again.status, again.verified) == (ActionStatus.FAILED, False)
    assert "whole organisation (AuditDisabled)" in again.detail and "only an organisation-wide change" in again.detail


# --- 4. and 5. send on behalf and recipient identities --------------------------------------------

async def test_forwarding_to_an_external_mail_contact_is_high(fabrikam: Runtime) -> None:
    inv = await _investigate(fabrikam, SEAN)
    [forwarding] = _of(inv, FindingKind.MAILBOX_FORWARDING)
    assert forwarding.severity is Severity.HIGH
    assert "sean.obrien.home@outlook.example" in forwarding.evidence[0]
    assert forwarding.targets == ("recipient:Sean Private",)
    [delegates] = _of(inv, FindingKind.MAILBOX_DELEGATE)
    assert delegates.severity is Severity.HIGH  # a mail user outside may send as him
    assert set(delegates.targets) == {"sendOnBehalf:Vendor Support", "sendOnBehalf:ken"}


async def test_forwarding_to_a_contact_inside_the_tenants_domains_is_medium(fabrikam: Runtime) -> None:
    mb = fabrikam.sandbox.state.mailbox("0b1e4a7d-2c5f-4e8b-9a1d-4c7f0b3e6a92")
    assert mb is not None
    mb["forwardingAddress"] = "Fabrikam Archive"
    [forwarding] = _of(await _investigate(fabrikam, SEAN), FindingKind.MAILBOX_FORWARDING)
    assert forwarding.severity is Severity.MEDIUM


async def test_remove_forwarding_and_delegates_address_exactly_the_flagged_identities(fabrikam: Runtime) -> None:
    sean = await user(fabrikam, SEAN)
    incident = await incident_for(fabrikam, sean)
    results = await run(fabrikam, incident, sean, [ActionId.REMOVE_FORWARDING, ActionId.REMOVE_DELEGATES])
    assert [(r.status, r.verified) for r in results] == [(ActionStatus.SUCCEEDED, True)] * 2, results
    mb = fabrikam.sandbox.state.mailbox(sean.id)
    assert mb is not None and mb["forwardingAddress"] is None and mb["grantSendOnBehalfTo"] == []
    sent = [w.body["CmdletInput"]["Parameters"] for w in writes(fabrikam)]
    behalf = next(p["GrantSendOnBehalfTo"] for p in sent if "GrantSendOnBehalfTo" in p)
    assert behalf["@odata.type"] == "#Exchange.GenericHashTable"
    inv = await _investigate(fabrikam, SEAN)
    assert not _of(inv, FindingKind.MAILBOX_FORWARDING) and not _of(inv, FindingKind.MAILBOX_DELEGATE)


async def test_a_delegate_added_after_the_investigation_is_left_alone(fabrikam: Runtime) -> None:
    sean = await user(fabrikam, SEAN)
    incident = await incident_for(fabrikam, sean)
    mb = fabrikam.sandbox.state.mailbox(sean.id)
    assert mb is not None
    mb["grantSendOnBehalfTo"].append("rita")
    [result] = await run(fabrikam, incident, sean, [ActionId.REMOVE_DELEGATES])
    assert result.status is ActionStatus.SUCCEEDED
    assert mb["grantSendOnBehalfTo"] == ["rita"]


async def test_delegates_gone_meanwhile_are_skipped_only_when_none_remain(fabrikam: Runtime) -> None:
    sean = await user(fabrikam, SEAN)
    incident = await incident_for(fabrikam, sean)
    mb = fabrikam.sandbox.state.mailbox(sean.id)
    assert mb is not None
    mb["grantSendOnBehalfTo"] = []
    [result] = await run(fabrikam, incident, sean, [ActionId.REMOVE_DELEGATES])
    assert (result.status, result.verified) == (ActionStatus.SKIPPED, True)
    assert writes(fabrikam) == []


# --- 9. Exchange roles ---------------------------------------------------------------------------------

async def test_a_missing_exchange_role_is_a_gap_naming_the_role(runtime: Runtime) -> None:
    await _exchange_roles(runtime, removeExchangeRoles=["Audit Logs"])
    with pytest.raises(PermissionDenied) as raised:
        await runtime.tenant.get_audit_bypass(mailbox="alice@contoso.com")
    assert "assign the app the Exchange role Audit Logs" in raised.value.sentence
    inv = await _investigate(runtime, "alice@contoso.com")
    assert inv.gaps == ("Could not read the mailbox audit bypass: the app lacks the Exchange role Audit Logs.",)


# --- 12. anchor mailbox and error sentences -----------------------------------------------------------

async def test_mailbox_cmdlets_anchor_on_the_target_mailbox(runtime: Runtime) -> None:
    seen: list[tuple[str, str]] = []

    async def capture(request: httpx.Request) -> None:
        import json

        name = json.loads(request.content)["CmdletInput"]["CmdletName"]
        seen.append((name, request.headers["X-AnchorMailbox"]))

    runtime.exchange._http.event_hooks["request"].append(capture)
    await runtime.tenant.get_mailbox(mailbox="alice@contoso.com")
    await runtime.tenant.get_organization_config()
    anchors = dict(seen)
    assert anchors["Get-Mailbox"] == "UPN:alice@contoso.com"
    assert anchors["Get-OrganizationConfig"].startswith("APP:SystemMailbox{")


async def test_a_binder_error_reads_the_internal_exception_not_the_generic_message(runtime: Runtime) -> None:
    with pytest.raises(TenantError) as raised:
        await runtime.tenant.set_mailbox(mailbox="alice@contoso.com", Colour="red")
    assert "A parameter cannot be found that matches parameter name 'Colour'" in raised.value.sentence
    assert "Error executing request" not in raised.value.sentence
    with pytest.raises(TenantError) as missing:
        await runtime.tenant.get_mailbox(mailbox="nobody@contoso.com")
    assert "couldn't be found" in missing.value.sentence and "|" not in missing.value.sentence
