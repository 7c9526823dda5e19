"""InvokeCommand: headers, cmdlets, error shapes, paging, and one inbox-rule model shared with Graph."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.conftest import ALICE, Tenant


def sentence(resp: httpx.Response) -> str:
    """The cmdlet's own sentence: in `innererror.internalexception` always (the top message is generic)."""
    return str(resp.json()["error"]["innererror"]["internalexception"]["message"])


async def test_missing_anchor_mailbox_is_400(tenant: Tenant) -> None:
    resp = await tenant.exo("Get-Mailbox", {"Identity": "alice@contoso.com"}, anchor=False)
    assert resp.status_code == 400
    assert sentence(resp).startswith("The X-AnchorMailbox header")
    assert "details" not in resp.json()["error"]  # refused before any cmdlet ran


@pytest.mark.parametrize(("anchor", "ok"), [
    ("UPN:alice@contoso.com", True), ("SMTP:alice@contoso.com", True), ("upn:Alice@Contoso.com", True),
    ("alice@contoso.com", False), ("UPN:alice@fabrikam.example", False), ("UPN:", False),
])
async def test_a_mailbox_anchor_is_accepted_in_exchange_forms(tenant: Tenant, anchor: str, ok: bool) -> None:
    tid = tenant.server.state.tenant_id
    resp = await tenant.client.post(
        f"{tenant.server.url}/adminapi/beta/{tid}/InvokeCommand",
        json={"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"Identity": "alice"}}},
        headers={"Authorization": f"Bearer {tenant.exo_token}", "X-AnchorMailbox": anchor})
    assert (resp.status_code == 200) is ok


async def test_get_mailbox_shows_forwarding_and_audit(tenant: Tenant) -> None:
    resp = await tenant.exo("Get-Mailbox", {"Identity": "alice@contoso.com"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["adminapi.warnings@odata.type"] == "#Collection(String)"
    [mb] = body["value"]
    assert mb["ForwardingSmtpAddress"] == "smtp:alice.backup@mail-sync.example"
    # Auditing is on by default, and then AuditEnabled stays False: the bypass is what is off for alice.
    assert mb["DeliverToMailboxAndForward"] is True and mb["AuditEnabled"] is False
    assert mb["ExternalDirectoryObjectId"] == ALICE and mb["PrimarySmtpAddress"] == "alice@contoso.com"


async def test_set_mailbox_clears_forwarding_and_turns_audit_on(tenant: Tenant) -> None:
    resp = await tenant.exo("Set-Mailbox", {"Identity": ALICE, "ForwardingSmtpAddress": None,
                                            "ForwardingAddress": None, "DeliverToMailboxAndForward": False,
                                            "AuditEnabled": True})
    assert resp.status_code == 200 and resp.json()["value"] == []
    [mb] = (await tenant.exo("get-mailbox", {"identity": "alice"})).json()["value"]
    assert mb["ForwardingSmtpAddress"] is None and mb["AuditEnabled"] is True
    [write] = tenant.server.write_log
    assert (write.route, write.target) == ("EXO Set-Mailbox", ALICE)


async def test_errors_have_the_cmdlet_sentence(tenant: Tenant) -> None:
    missing = await tenant.exo("Get-Mailbox", {"Identity": "nobody@contoso.com"})
    assert missing.status_code == 404
    detail = missing.json()["error"]["details"][0]
    assert detail["message"].split("|")[-1].startswith(
        "The operation couldn't be performed because object 'nobody@contoso.com' couldn't be found on '")
    assert detail["message"].split("|")[1].endswith("ManagementObjectNotFoundException")
    assert missing.json()["error"]["message"].startswith("Error executing request")
    colour = await tenant.exo("Get-Mailbox", {"Identity": "alice", "Colour": "red"})
    assert colour.status_code == 400 and "details" not in colour.json()["error"]
    assert sentence(colour) == "A parameter cannot be found that matches parameter name 'Colour'."
    unknown = await tenant.exo("Get-Everything")
    assert unknown.status_code == 400 and "is not recognized" in sentence(unknown)
    assert (await tenant.exo("Set-Mailbox", {"Identity": "alice", "AuditEnabled": "yes"})).status_code == 400
    assert tenant.server.write_log == []


async def test_hidden_rule_only_with_include_hidden(tenant: Tenant) -> None:
    plain = (await tenant.exo("Get-InboxRule", {"Mailbox": "alice@contoso.com"})).json()["value"]
    hidden = (await tenant.exo("Get-InboxRule", {"Mailbox": "alice@contoso.com", "IncludeHidden": True})).json()
    assert [r["Name"] for r in plain] == ["Sync", "..", "Newsletters"]
    names = {r["Name"]: r for r in hidden["value"]}
    # Exchange's own rules come along: junk mail, and the automatic replies alice has set up.
    assert set(names) == {"Sync", "..", "RSS", "Newsletters", "Junk E-Mail Rule",
                          "Microsoft.Exchange.OOF.KnownSenders.Template",
                          "Microsoft.Exchange.OOF.AllExternalSenders.Template"}
    assert names["RSS"]["MoveToFolder"] == "alice:\\RSS Feeds"
    assert names["Sync"]["ForwardTo"] == ['"invoices@acct-records.example" [SMTP:invoices@acct-records.example]']
    assert names[".."]["DeleteMessage"] is True and "invoice" in names[".."]["SubjectOrBodyContainsWords"]


async def test_graph_and_exchange_share_one_rule_model(tenant: Tenant) -> None:
    rules = (await tenant.graph("GET", f"/users/{ALICE}/mailFolders/inbox/messageRules")).json()["value"]
    sync = next(r for r in rules if r["displayName"] == "Sync")
    await tenant.graph("PATCH", f"/users/{ALICE}/mailFolders/inbox/messageRules/{sync['id']}",
                       json={"isEnabled": False})
    exo = {r["Name"]: r for r in (await tenant.exo("Get-InboxRule", {"Mailbox": "alice"})).json()["value"]}
    assert exo["Sync"]["Enabled"] is False
    resp = await tenant.exo("Disable-InboxRule", {"Identity": exo[".."]["Identity"], "Mailbox": "alice",
                                                  "Confirm": False})
    assert resp.status_code == 200
    rules = {r["displayName"]: r for r in
             (await tenant.graph("GET", f"/users/{ALICE}/mailFolders/inbox/messageRules")).json()["value"]}
    assert rules[".."]["isEnabled"] is False
    rss = next(r for r in (await tenant.exo("Get-InboxRule", {"Mailbox": "alice", "IncludeHidden": True})
                           ).json()["value"] if r["Name"] == "RSS")
    assert (await tenant.exo("Disable-InboxRule", {"Identity": rss["Identity"]})).status_code == 200
    assert [w.route for w in tenant.server.write_log] == [
        "PATCH /users/{id}/mailFolders/inbox/messageRules/{ruleId}", "EXO Disable-InboxRule", "EXO Disable-InboxRule"]


async def test_delegates_and_their_removal(tenant: Tenant) -> None:
    perms = (await tenant.exo("Get-MailboxPermission", {"Identity": "alice"})).json()["value"]
    assert {p["User"] for p in perms} == {"NT AUTHORITY\\SELF", "support.desk@contoso.com"}
    resp = await tenant.exo("Remove-MailboxPermission", {"Identity": "alice", "User": "support.desk@contoso.com",
                                                         "AccessRights": ["FullAccess"], "InheritanceType": "All",
                                                         "Confirm": False})
    assert resp.status_code == 200
    again = await tenant.exo("Remove-MailboxPermission", {"Identity": "alice", "User": "support.desk@contoso.com",
                                                          "AccessRights": "FullAccess"})
    assert again.json()["@adminapi.warnings"]  # nothing to remove: a warning, not a second write
    send_as = (await tenant.exo("Get-RecipientPermission", {"Identity": "alice"})).json()["value"]
    assert "support.desk@contoso.com" in {p["Trustee"] for p in send_as}
    await tenant.exo("Remove-RecipientPermission", {"Identity": "alice", "Trustee": "support.desk@contoso.com",
                                                    "AccessRights": ["SendAs"], "Confirm": False})
    send_as = (await tenant.exo("Get-RecipientPermission", {"Identity": "alice"})).json()["value"]
    assert {p["Trustee"] for p in send_as} == {"NT AUTHORITY\\SELF"}
    assert len(tenant.server.write_log) == 2


async def test_blocked_sender_audit_config_and_cas(tenant: Tenant) -> None:
    blocked = (await tenant.exo("Get-BlockedSenderAddress")).json()["value"]
    assert [b["SenderAddress"] for b in blocked] == ["alice@contoso.com"]
    assert (await tenant.exo("Remove-BlockedSenderAddress", {"SenderAddress": "alice@contoso.com"})).status_code == 200
    assert (await tenant.exo("Get-BlockedSenderAddress")).json()["value"] == []
    org = (await tenant.exo("Get-OrganizationConfig")).json()["value"][0]
    assert org["AuditDisabled"] is False
    bypass = (await tenant.exo("Get-MailboxAuditBypassAssociation", {"Identity": "alice"})).json()["value"][0]
    assert bypass["AuditBypassEnabled"] is True
    assert (await tenant.exo("Set-MailboxAuditBypassAssociation", {"Identity": "alice"})).status_code == 400
    assert (await tenant.exo("Set-MailboxAuditBypassAssociation",
                             {"Identity": "alice", "AuditBypassEnabled": False})).status_code == 200
    bypass = (await tenant.exo("Get-MailboxAuditBypassAssociation", {"Identity": "alice"})).json()["value"][0]
    assert bypass["AuditBypassEnabled"] is False
    await tenant.exo("Set-CASMailbox", {"Identity": "alice", "ImapEnabled": False, "PopEnabled": False})
    cas = (await tenant.exo("Get-CASMailbox", {"Identity": "alice"})).json()["value"][0]
    assert (cas["ImapEnabled"], cas["PopEnabled"], cas["EwsEnabled"]) == (False, False, True)


async def test_paging_posts_the_same_body_to_next_link(tenant: Tenant) -> None:
    await tenant.admin("POST", "/options", json={"exoPageSize": 4})
    first = (await tenant.exo("Get-Mailbox")).json()
    assert len(first["value"]) == 4 and "@odata.nextLink" in first
    names = [m["UserPrincipalName"] for m in first["value"]]
    url = first["@odata.nextLink"]
    while url:
        page = (await tenant.exo("Get-Mailbox", url=url)).json()
        names += [m["UserPrincipalName"] for m in page["value"]]
        url = page.get("@odata.nextLink")
    assert len(names) == len(set(names)) == len(tenant.server.state.users)


async def test_send_on_behalf_edits_need_exchanges_typed_hashtable(tenant: Tenant) -> None:
    await tenant.exo("Set-Mailbox", {"Identity": "alice", "GrantSendOnBehalfTo": ["support.desk@contoso.com", "bob"]})
    bare = await tenant.exo("Set-Mailbox", {"Identity": "alice", "GrantSendOnBehalfTo": {"remove": ["bob"]}})
    assert bare.status_code == 400 and "Cannot convert" in sentence(bare)
    typed: dict[str, Any] = {"@odata.type": "#Exchange.GenericHashTable", "remove": ["bob@contoso.com"]}
    assert (await tenant.exo("Set-Mailbox", {"Identity": "alice", "GrantSendOnBehalfTo": typed})).status_code == 200
    [mb] = (await tenant.exo("Get-Mailbox", {"Identity": "alice"})).json()["value"]
    # Recipient identities (the recipient's Name), not addresses.
    assert mb["GrantSendOnBehalfTo"] == ["support.desk"]


async def test_forwarding_address_is_a_recipient_identity_and_contacts_resolve(tenant: Tenant) -> None:
    tenant.server.state.data["mailContacts"].append(
        {"id": "c0ffee00-0000-4000-8000-000000000001", "name": "Backup Contact", "alias": "backupcontact",
         "externalEmailAddress": "backup@elsewhere.example"})
    assert (await tenant.exo("Set-Mailbox", {"Identity": "alice", "ForwardingAddress": "backup@elsewhere.example"})
            ).status_code == 200
    [mb] = (await tenant.exo("Get-Mailbox", {"Identity": "alice"})).json()["value"]
    assert mb["ForwardingAddress"] == "Backup Contact"
    [contact] = (await tenant.exo("Get-Recipient", {"Identity": "Backup Contact"})).json()["value"]
    assert contact["RecipientTypeDetails"] == "MailContact"
    assert contact["ExternalEmailAddress"] == "SMTP:backup@elsewhere.example"
    [me] = (await tenant.exo("Get-Recipient", {"Identity": "alice"})).json()["value"]
    assert (me["RecipientTypeDetails"], me["PrimarySmtpAddress"]) == ("UserMailbox", "alice@contoso.com")
    assert (await tenant.exo("Get-Recipient", {"Identity": "nobody"})).status_code == 404


async def test_a_cmdlet_outside_the_apps_exchange_roles_is_not_recognized(tenant: Tenant) -> None:
    app = tenant.server.state.default_app
    await tenant.admin("POST", f"/apps/{app['clientId']}/permissions", json={"removeExchangeRoles": ["Audit Logs"]})
    resp = await tenant.exo("Get-MailboxAuditBypassAssociation", {"Identity": "alice"})
    assert resp.status_code == 400
    assert sentence(resp).startswith("The term 'Get-MailboxAuditBypassAssociation' is not recognized as a name of a "
                                     "cmdlet")
    assert (await tenant.exo("Get-Mailbox", {"Identity": "alice"})).status_code == 200
    await tenant.admin("POST", f"/apps/{app['clientId']}/permissions", json={"addRoles": ["Exchange Administrator"]})
    assert (await tenant.exo("Get-MailboxAuditBypassAssociation", {"Identity": "alice"})).status_code == 200
