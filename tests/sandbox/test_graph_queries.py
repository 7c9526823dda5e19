"""Graph strictness: query options, filters (including injection attempts), $search, paging, ids."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.sandbox.conftest import ALICE, Tenant


def upns(resp_json: dict) -> list[str]:  # type: ignore[type-arg]
    return sorted(u["userPrincipalName"] for u in resp_json["value"])


async def test_filter_by_upn_or_mail(tenant: Tenant) -> None:
    resp = await tenant.graph("GET", "/users", params={
        "$filter": "userPrincipalName eq 'ALICE@contoso.com' or mail eq 'bob@contoso.com'"})
    assert resp.status_code == 200
    assert upns(resp.json()) == ["alice@contoso.com", "bob@contoso.com"]
    assert resp.json()["@odata.context"].endswith("/v1.0/$metadata#users")


async def test_startswith_and_id_filters(tenant: Tenant) -> None:
    resp = await tenant.graph("GET", "/users", params={"$filter": "startswith(displayName,'Ali')"})
    assert upns(resp.json()) == ["alice@contoso.com", "alicia@contoso.com"]
    resp = await tenant.graph("GET", "/users", params={"$filter": f"id eq '{ALICE}'"})
    assert upns(resp.json()) == ["alice@contoso.com"]


@pytest.mark.parametrize("bad", [
    "userPrincipalName eq alice",  # unquoted literal
    "userPrincipalName eq 'alice",  # unterminated string
    "userPrincipalName eqq 'a'",
    "(userPrincipalName eq 'a'",
    "userPrincipalName eq 'a' or",
    "",
    "jobTitle eq 'x'",  # not a filterable property here
    "endswith(mail,'contoso.com')",  # function not supported on the property
    "userPrincipalName gt 'a'",
])
async def test_bad_filters_are_400_not_a_wider_match(tenant: Tenant, bad: str) -> None:
    resp = await tenant.graph("GET", "/users", params={"$filter": bad})
    assert resp.status_code == 400, bad
    assert resp.json()["error"]["code"] in ("BadRequest", "Request_UnsupportedQuery")


@pytest.mark.parametrize("name", [
    "x' or userPrincipalName eq 'bob@contoso.com",
    "' or 1 eq 1 or '",
    "alice@contoso.com') or startswith(displayName,'",
    "O'Brien",
])
async def test_escaped_injection_neither_breaks_nor_widens(tenant: Tenant, name: str) -> None:
    literal = name.replace("'", "''")  # what a correct client sends
    resp = await tenant.graph("GET", "/users", params={"$filter": f"userPrincipalName eq '{literal}'"})
    assert resp.status_code == 200
    assert resp.json()["value"] == []


async def test_unescaped_injection_is_refused_or_matches_nothing_extra(tenant: Tenant) -> None:
    for raw in ("userPrincipalName eq 'x' or '1' eq '1'", "userPrincipalName eq 'x'' or 1 eq 1"):
        resp = await tenant.graph("GET", "/users", params={"$filter": raw})
        assert resp.status_code == 400, raw


async def test_select_unknown_property_is_400(tenant: Tenant) -> None:
    resp = await tenant.graph("GET", f"/users/{ALICE}", params={"$select": "id,favouriteColour"})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == (
        "Could not find a property named 'favouriteColour' on type 'microsoft.graph.user'.")


async def test_select_returns_only_what_was_asked(tenant: Tenant) -> None:
    resp = await tenant.graph("GET", f"/users/{ALICE}", params={
        "$select": "id,accountEnabled,lastPasswordChangeDateTime,signInActivity"})
    body = resp.json()
    assert set(body) == {"@odata.context", "id", "accountEnabled", "lastPasswordChangeDateTime", "signInActivity"}
    assert body["signInActivity"]["lastSignInDateTime"].endswith("Z")
    default = (await tenant.graph("GET", f"/users/{ALICE}")).json()
    assert "accountEnabled" not in default and default["userPrincipalName"] == "alice@contoso.com"


async def test_unknown_query_option_is_400(tenant: Tenant) -> None:
    resp = await tenant.graph("GET", "/users", params={"$foo": "1"})
    assert resp.status_code == 400
    resp = await tenant.graph("GET", f"/users/{ALICE}", params={"$expand": "manager"})
    assert resp.status_code == 400


async def test_search_needs_consistency_level(tenant: Tenant) -> None:
    params = {"$search": '"displayName:Alice"'}
    assert (await tenant.graph("GET", "/users", params=params)).status_code == 400
    resp = await tenant.graph("GET", "/users", params={**params, "$count": "true"},
                              headers={"ConsistencyLevel": "eventual"})
    assert resp.status_code == 200
    assert upns(resp.json()) == ["alice@contoso.com"] and resp.json()["@odata.count"] == 1
    one_letter = await tenant.graph("GET", "/users", params={"$search": '"displayName:a"'},
                                    headers={"ConsistencyLevel": "eventual"})
    assert upns(one_letter.json()) == ["alan@contoso.com", "alice@contoso.com", "alicia@contoso.com"]


async def test_upn_lookup_percent_encoded_and_unknown_user(tenant: Tenant) -> None:
    resp = await tenant.graph("GET", "/users/alice%40contoso.com")
    assert resp.status_code == 200 and resp.json()["id"] == ALICE
    missing = await tenant.graph("GET", f"/users/{quote('nobody@contoso.com')}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"


async def test_paging_follows_next_link(tenant: Tenant) -> None:
    seen: list[str] = []
    url = f"{tenant.server.url}/v1.0/users?$top=2&$select=id,userPrincipalName"
    pages = 0
    while url:
        body = (await tenant.graph("GET", url)).json()
        seen += [u["userPrincipalName"] for u in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
    assert pages == 5 and len(seen) == len(set(seen)) == len(tenant.server.state.users)


async def test_sign_ins_filter_top_and_paging(tenant: Tenant) -> None:
    resp = await tenant.graph("GET", "/auditLogs/signIns", params={
        "$filter": "userPrincipalName eq 'alice@contoso.com'", "$top": "4"})
    body = resp.json()
    assert len(body["value"]) == 4 and "@odata.nextLink" in body
    assert {s["userPrincipalName"] for s in body["value"]} == {"alice@contoso.com"}
    rest = (await tenant.graph("GET", body["@odata.nextLink"])).json()
    assert len(rest["value"]) == 2 and "@odata.nextLink" not in rest
    countries = {s["location"]["countryOrRegion"] for s in body["value"] + rest["value"]}
    assert countries == {"US", "NG"}
    assert any(s["clientAppUsed"] == "IMAP4" for s in body["value"] + rest["value"])


async def test_every_response_carries_request_ids(tenant: Tenant) -> None:
    for method, path in (("GET", "/users"), ("GET", "/users/nobody"), ("GET", "/nothing/here"),
                         ("DELETE", "/users")):
        resp = await tenant.graph(method, path, headers={"client-request-id": "c-1"})
        assert resp.headers.get("request-id"), path
        assert resp.headers["client-request-id"] == "c-1"
        assert resp.status_code < 500
    assert (await tenant.exo("Get-OrganizationConfig")).headers.get("request-id")
    records = tenant.server.request_log
    assert ("GET /users/{id}", 404) in {(r.route, r.status) for r in records}
