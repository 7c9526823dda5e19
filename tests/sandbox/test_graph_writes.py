"""Graph writes change what later reads return, are logged once each, and never keep a password."""

from __future__ import annotations

import json

from tests.sandbox.conftest import ALICE, BOB, CAROL, FRANK, GLOBAL_ADMIN_ROLE, RESPONDERS, Tenant

AUTHENTICATOR = "6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d90"
PASSWORD_METHOD = "28c10230-6103-485e-b985-444c60001490"


async def test_patch_account_enabled_then_get(tenant: Tenant) -> None:
    resp = await tenant.graph("PATCH", f"/users/{ALICE}", json={"accountEnabled": False})
    assert resp.status_code == 204
    user = (await tenant.graph("GET", f"/users/{ALICE}", params={"$select": "accountEnabled"})).json()
    assert user["accountEnabled"] is False
    [write] = tenant.server.write_log
    assert (write.method, write.route, write.target, write.body) == ("PATCH", "PATCH /users/{id}", ALICE,
                                                                     {"accountEnabled": False})
    assert write.request_id == resp.headers["request-id"]


async def test_patch_rejects_unknown_and_read_only_properties(tenant: Tenant) -> None:
    for body in ({"favouriteColour": "red"}, {"createdDateTime": "2020-01-01T00:00:00Z"}, {"accountEnabled": "no"}):
        assert (await tenant.graph("PATCH", f"/users/{ALICE}", json=body)).status_code == 400
    assert tenant.server.write_log == []


async def test_password_reset_checks_complexity_and_never_keeps_the_password(tenant: Tenant) -> None:
    weak = await tenant.graph("PATCH", f"/users/{ALICE}", json={
        "passwordProfile": {"password": "password", "forceChangePasswordNextSignIn": True}})
    assert weak.status_code == 400 and "complexity" in weak.json()["error"]["message"]
    secret = "Vq7#tLm2!xR9wz"
    ok = await tenant.graph("PATCH", f"/users/{ALICE}", json={
        "passwordProfile": {"password": secret, "forceChangePasswordNextSignIn": True}})
    assert ok.status_code == 204
    user = (await tenant.graph("GET", f"/users/{ALICE}", params={
        "$select": "lastPasswordChangeDateTime,passwordProfile"})).json()
    assert user["passwordProfile"] == {"password": None, "forceChangePasswordNextSignIn": True,
                                       "forceChangePasswordNextSignInWithMfa": False}
    assert user["lastPasswordChangeDateTime"] > "2025"
    home = tenant.server.home / "sandbox"
    on_disk = "".join(p.read_text() for p in home.glob("*.json*"))
    assert secret not in on_disk
    assert secret not in json.dumps([w.to_json() for w in tenant.server.write_log])
    assert tenant.server.write_log[-1].body["passwordProfile"]["password"] == "[REDACTED]"


async def test_password_reset_of_an_admin_needs_privileged_authentication_administrator(tenant: Tenant) -> None:
    client_id = tenant.server.endpoints().client_id
    await tenant.admin("POST", f"/apps/{client_id}/permissions",
                       json={"removeRoles": ["Privileged Authentication Administrator"]})
    body = {"passwordProfile": {"password": "Vq7#tLm2!xR9wz", "forceChangePasswordNextSignIn": True}}
    assert (await tenant.graph("PATCH", f"/users/{CAROL}", json=body)).status_code == 403
    assert (await tenant.graph("PATCH", f"/users/{BOB}", json=body)).status_code == 204


async def test_revoke_sessions(tenant: Tenant) -> None:
    before = tenant.server.state.user(ALICE)["signInSessionsValidFromDateTime"]
    resp = await tenant.graph("POST", f"/users/{ALICE}/revokeSignInSessions")
    assert resp.status_code == 200 and resp.json()["value"] is True
    after = (await tenant.graph("GET", f"/users/{ALICE}", params={
        "$select": "signInSessionsValidFromDateTime"})).json()["signInSessionsValidFromDateTime"]
    assert after > before


async def test_confirm_compromised_and_dismiss(tenant: Tenant) -> None:
    risky = (await tenant.graph("GET", f"/identityProtection/riskyUsers/{ALICE}")).json()
    assert (risky["riskLevel"], risky["riskState"]) == ("high", "atRisk")
    assert (await tenant.graph("POST", "/identityProtection/riskyUsers/confirmCompromised",
                               json={"userIds": [ALICE]})).status_code == 204
    risky = (await tenant.graph("GET", f"/identityProtection/riskyUsers/{ALICE}")).json()
    assert (risky["riskLevel"], risky["riskState"]) == ("high", "confirmedCompromised")
    assert (await tenant.graph("POST", "/identityProtection/riskyUsers/dismiss",
                               json={"userIds": [ALICE]})).status_code == 204
    risky = (await tenant.graph("GET", f"/identityProtection/riskyUsers/{ALICE}")).json()
    assert (risky["riskLevel"], risky["riskState"]) == ("none", "dismissed")
    listed = (await tenant.graph("GET", "/identityProtection/riskyUsers", params={
        "$filter": "riskLevel eq 'high' and riskState eq 'atRisk'"})).json()["value"]
    assert ALICE not in [r["id"] for r in listed]
    assert (await tenant.graph("GET", f"/identityProtection/riskyUsers/{BOB}")).status_code == 404


async def test_authentication_methods_are_polymorphic_and_deleted_per_type(tenant: Tenant) -> None:
    methods = (await tenant.graph("GET", f"/users/{ALICE}/authentication/methods")).json()["value"]
    types = {m["@odata.type"] for m in methods}
    assert types == {"#microsoft.graph.passwordAuthenticationMethod",
                     "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"}
    wrong_type = await tenant.graph("DELETE", f"/users/{ALICE}/authentication/phoneMethods/{AUTHENTICATOR}")
    assert wrong_type.status_code == 404
    password = await tenant.graph("DELETE", f"/users/{ALICE}/authentication/passwordMethods/{PASSWORD_METHOD}")
    assert password.status_code == 400
    gone = await tenant.graph("DELETE", f"/users/{ALICE}/authentication/microsoftAuthenticatorMethods/{AUTHENTICATOR}")
    assert gone.status_code == 204
    methods = (await tenant.graph("GET", f"/users/{ALICE}/authentication/methods")).json()["value"]
    assert [m["id"] for m in methods] == [PASSWORD_METHOD]
    assert len(tenant.server.write_log) == 1


async def test_admin_role_membership_and_removal(tenant: Tenant) -> None:
    roles = (await tenant.graph("GET", f"/users/{CAROL}/memberOf/microsoft.graph.directoryRole")).json()["value"]
    assert [(r["@odata.type"], r["displayName"]) for r in roles] == [
        ("#microsoft.graph.directoryRole", "Global Administrator")]
    resp = await tenant.graph("DELETE", f"/directoryRoles/{GLOBAL_ADMIN_ROLE}/members/{CAROL}/$ref")
    assert resp.status_code == 204
    assert (await tenant.graph("GET", f"/users/{CAROL}/memberOf/microsoft.graph.directoryRole")).json()["value"] == []
    again = await tenant.graph("DELETE", f"/directoryRoles/{GLOBAL_ADMIN_ROLE}/members/{CAROL}/$ref")
    assert again.status_code == 404


def _grants_of(user_id: str) -> dict[str, str]:
    return {"$filter": f"principalId eq '{user_id}'"}


async def test_oauth_grants_list_and_delete(tenant: Tenant) -> None:
    # Apps read a user's consents from the tenant-wide collection (the user route refuses app tokens).
    grants = (await tenant.graph("GET", "/oauth2PermissionGrants", params=_grants_of(ALICE))).json()["value"]
    assert [g["scope"] for g in grants] == ["Mail.ReadWrite offline_access"]
    sp = (await tenant.graph("GET", f"/servicePrincipals/{grants[0]['clientId']}")).json()
    assert sp["displayName"] == "Mail Organizer Pro"
    assert (await tenant.graph("DELETE", f"/oauth2PermissionGrants/{grants[0]['id']}")).status_code == 204
    assert (await tenant.graph("GET", "/oauth2PermissionGrants", params=_grants_of(ALICE))).json()["value"] == []
    assert (await tenant.graph("GET", "/oauth2PermissionGrants", params=_grants_of(BOB))).json()["value"] == []


async def test_the_user_route_to_oauth_grants_refuses_app_tokens_as_graph_does(tenant: Tenant) -> None:
    resp = await tenant.graph("GET", f"/users/{ALICE}/oauth2PermissionGrants")
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "Authorization_RequestDenied"


async def test_responders_group_nested_membership(tenant: Tenant) -> None:
    members = (await tenant.graph("GET", f"/groups/{RESPONDERS}/transitiveMembers")).json()["value"]
    users = {m["userPrincipalName"] for m in members if m["@odata.type"] == "#microsoft.graph.user"}
    assert users == {"dave@contoso.com", "erin@contoso.com", "frank@contoso.com"}
    check = await tenant.graph("POST", f"/users/{FRANK}/checkMemberGroups", json={"groupIds": [RESPONDERS, "x"]})
    assert check.json()["value"] == [RESPONDERS]
    check = await tenant.graph("POST", f"/users/{ALICE}/checkMemberGroups", json={"groupIds": [RESPONDERS]})
    assert check.json()["value"] == []
    assert tenant.server.write_log == []  # checkMemberGroups reads


async def test_message_rules_hide_hidden_rules_and_patch(tenant: Tenant) -> None:
    rules = (await tenant.graph("GET", f"/users/{ALICE}/mailFolders/inbox/messageRules")).json()["value"]
    assert [r["displayName"] for r in rules] == ["Sync", "..", "Newsletters"]
    forward = rules[0]
    assert forward["actions"]["forwardTo"][0]["emailAddress"]["address"] == "invoices@acct-records.example"
    assert rules[1]["actions"]["delete"] is True and "invoice" in rules[1]["conditions"]["bodyOrSubjectContains"]
    resp = await tenant.graph("PATCH", f"/users/{ALICE}/mailFolders/inbox/messageRules/{forward['id']}",
                              json={"isEnabled": False})
    assert resp.status_code == 200 and resp.json()["isEnabled"] is False
    assert (await tenant.graph("PATCH", f"/users/{ALICE}/mailFolders/inbox/messageRules/{forward['id']}",
                               json={"isEnabled": "no"})).status_code == 400


async def test_instance_annotations_in_bodies_are_accepted(tenant: Tenant) -> None:
    # msgraph-sdk puts "@odata.type" on every model it serialises, nested ones included.
    resp = await tenant.graph("PATCH", f"/users/{BOB}", json={
        "@odata.type": "#microsoft.graph.user", "passwordProfile": {
            "@odata.type": "#microsoft.graph.passwordProfile", "password": "Vq7#tLm2!xR9wz",
            "forceChangePasswordNextSignIn": True}})
    assert resp.status_code == 204
    assert "@odata.type" not in tenant.server.write_log[-1].body
