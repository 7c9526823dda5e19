"""Graph users: list with $filter/$search/$select/$top/$count, get by id or UPN, PATCH (account state
and password profile), revokeSignInSessions and checkMemberGroups."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from sandbox import odata
from sandbox.errors import GraphError, bad_request, forbidden
from sandbox.fixture import iso
from sandbox.routing import Call, Perm, Route, graph

ROUTES: list[Route] = []

USER_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
USER_PROPERTIES = (
    "id deletedDateTime aboutMe accountEnabled ageGroup assignedLicenses assignedPlans birthday businessPhones city "
    "companyName consentProvidedForMinor country createdDateTime creationType customSecurityAttributes department "
    "displayName employeeHireDate employeeId employeeLeaveDateTime employeeOrgData employeeType externalUserState "
    "externalUserStateChangeDateTime faxNumber givenName hireDate identities imAddresses interests "
    "isResourceAccount jobTitle lastPasswordChangeDateTime legalAgeGroupClassification licenseAssignmentStates mail "
    "mailNickname mailboxSettings mobilePhone mySite officeLocation onPremisesDistinguishedName onPremisesDomainName "
    "onPremisesExtensionAttributes onPremisesImmutableId onPremisesLastSyncDateTime onPremisesProvisioningErrors "
    "onPremisesSamAccountName onPremisesSecurityIdentifier onPremisesSyncEnabled onPremisesUserPrincipalName "
    "otherMails passwordPolicies passwordProfile pastProjects postalCode preferredDataLocation preferredLanguage "
    "preferredName provisionedPlans proxyAddresses responsibilities schools securityIdentifier showInAddressList "
    "signInActivity signInSessionsValidFromDateTime skills state streetAddress surname usageLocation "
    "userPrincipalName userType"
).split()
DEFAULT_USER = ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
                "preferredLanguage", "surname", "userPrincipalName", "id")
_STR_OPS = ("eq", "in", "startswith")
USER_FILTER = {
    "id": odata.field("id", ops=("eq", "in")), "userPrincipalName": odata.field("userPrincipalName", ops=_STR_OPS),
    "mail": odata.field("mail", ops=_STR_OPS), "displayName": odata.field("displayName", ops=_STR_OPS),
    "givenName": odata.field("givenName", ops=_STR_OPS), "surname": odata.field("surname", ops=_STR_OPS),
    "accountEnabled": odata.field("accountEnabled", "bool", ("eq",)), "userType": odata.field("userType"),
}
_SEARCH = re.compile(r'"(displayName|mail|userPrincipalName|givenName|surname):((?:[^"\\]|\\.)*)"')
_WORDS = re.compile(r"[\w']+")


def _render(call: Call, user: dict[str, Any]) -> dict[str, Any]:
    """The stored user as Graph shows it; write-only and internal fields are shaped or dropped."""
    out = {k: v for k, v in user.items() if not k.startswith("_")}
    profile = user.get("_passwordProfile") or {}
    out["passwordProfile"] = {"password": None,
                              "forceChangePasswordNextSignIn": profile.get("forceChangePasswordNextSignIn", False),
                              "forceChangePasswordNextSignInWithMfa": False}
    return out


def _select(call: Call) -> list[str] | None:
    select = odata.parse_select(call.query.get("$select"), USER_PROPERTIES, "microsoft.graph.user")
    if select and "signInActivity" in select:
        # Graph wants AuditLog.Read.All besides a user read permission, and an Entra ID P1 licence: without
        # either the whole request is refused, not just the one property.
        if not call.perms & {"AuditLog.Read.All"}:
            raise forbidden()
        call.state.require_licence("P1")
    return select


def _search_predicate(raw: str) -> Any:
    """`"displayName:ali wil"`: every word of the term is a prefix of a word of the property."""
    clauses = _SEARCH.findall(raw)
    rest = _SEARCH.sub("", raw).replace(" OR ", " ").replace(" AND ", " ").strip()
    if not clauses or rest:
        raise GraphError(400, "Request_UnsupportedQuery", "Syntax error: the $search value must look like "
                         "\"property:term\", optionally joined by OR or AND.")
    join_and = " AND " in raw

    def clause_ok(item: dict[str, Any], prop: str, term: str) -> bool:
        have = [w.casefold() for w in _WORDS.findall(str(item.get(prop) or ""))]
        want = [w.casefold() for w in _WORDS.findall(term.replace('\\"', '"'))]
        return bool(want) and all(any(h.startswith(w) for h in have) for w in want)

    def predicate(item: dict[str, Any]) -> bool:
        results = [clause_ok(item, p, t) for p, t in clauses]
        return all(results) if join_and else any(results)

    return predicate


@graph(ROUTES, "GET", "/users", perms=USER_READ,
       query={"$filter", "$search", "$select", "$top", "$count", "$orderby", "$skiptoken"})
async def list_users(call: Call) -> web.Response:
    eventual = call.request.headers.get("ConsistencyLevel", "").lower() == "eventual"
    select = _select(call)
    users = list(call.state.users)
    if "$search" in call.query:
        if not eventual:
            raise GraphError(400, "Request_UnsupportedQuery", "Request with $search query parameter only works "
                             "through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
        users = [u for u in users if _search_predicate(call.query["$search"])(u)]
    if "$filter" in call.query:
        users = [u for u in users if odata.compile_filter(call.query["$filter"], USER_FILTER, "User")(u)]
    count = call.query.get("$count", "false").lower()
    if count not in ("true", "false"):
        raise bad_request(f"Invalid value '{call.query['$count']}' for $count.")
    if count == "true" and not eventual:
        raise GraphError(400, "Request_BadRequest", "$count is not currently supported.")
    order = odata.parse_orderby(call.query.get("$orderby"), ("displayName", "userPrincipalName"))
    if order:
        users.sort(key=lambda u: str(u.get(order[0]) or "").casefold(), reverse=order[1])
    items = [odata.project(_render(call, u), select, DEFAULT_USER) for u in users]
    context = f"users({','.join(select)})" if select else "users"
    return call.page(items, context=context, default_size=int(call.state.options["graphPageSize"]), max_size=999,
                     count=count == "true")


@graph(ROUTES, "GET", "/users/{id}", perms=USER_READ, query={"$select"})
async def get_user(call: Call) -> web.Response:
    select = _select(call)
    user = call.state.user(call.params["id"])
    context = f"users({','.join(select)})/$entity" if select else "users/$entity"
    return call.ok(odata.project(_render(call, user), select, DEFAULT_USER), context=context)


_WRITABLE = {"accountEnabled", "passwordProfile", "displayName", "jobTitle", "department", "officeLocation",
             "mobilePhone", "usageLocation", "givenName", "surname"}
_FIELD_PERMS = {
    "accountEnabled": {"User.EnableDisableAccount.All", "User.ReadWrite.All", "Directory.ReadWrite.All"},
    "passwordProfile": {"User-PasswordProfile.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"},
}


PRIVILEGED_AUTH_ROLES = frozenset({"Privileged Authentication Administrator", "Global Administrator"})


def password_complex_enough(password: str) -> bool:
    """Entra's rule: 8 to 256 characters and at least three of lower case, upper case, digits, symbols."""
    if not 8 <= len(password) <= 256:
        return False
    classes = [any(c.islower() for c in password), any(c.isupper() for c in password),
               any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
    return sum(classes) >= 3


@graph(ROUTES, "PATCH", "/users/{id}", perms=("User.EnableDisableAccount.All", "User-PasswordProfile.ReadWrite.All",
                                              "User.ReadWrite.All", "Directory.ReadWrite.All"))
async def patch_user(call: Call) -> web.Response:
    user = call.state.user(call.params["id"])
    body = call.body
    if not isinstance(body, dict) or not body:
        raise bad_request("Empty Payload. JSON content expected.")
    odata_type = body.pop("@odata.type", "#microsoft.graph.user")
    if odata_type != "#microsoft.graph.user":  # msgraph-sdk always sends the annotation; Graph checks it
        raise bad_request(f"A type named '{str(odata_type).lstrip('#')}' could not be resolved by the model.",
                          "BadRequest")
    for key in body:
        if key not in _WRITABLE:
            if key in USER_PROPERTIES:
                raise bad_request(f"Property '{key}' is read-only and cannot be set.", "Request_BadRequest")
            raise bad_request(f"Property '{key}' does not exist on type 'microsoft.graph.user'. Make sure to only "
                              "use property names that are defined by the type.", "Request_BadRequest")
        needed = _FIELD_PERMS.get(key, {"User.ReadWrite.All", "Directory.ReadWrite.All"})
        if not needed & call.perms:
            raise forbidden()
    if "accountEnabled" in body and not isinstance(body["accountEnabled"], bool):
        raise bad_request("Invalid value specified for property 'accountEnabled' of resource 'User'.",
                          "Request_BadRequest")
    privileged = bool(call.state.roles_of(user["id"]))
    app = call.state.app(str(call.claims.get("appid"))) or {}
    app_roles = set(app.get("directoryRoles", []))
    if "accountEnabled" in body and privileged and not PRIVILEGED_AUTH_ROLES & app_roles:
        # Enabling or disabling an admin is a sensitive action: an app needs Privileged Authentication
        # Administrator (or Global Administrator) on top of the permission.
        raise forbidden()
    logged = dict(body)
    profile = body.get("passwordProfile")
    if profile is not None:
        if not isinstance(profile, dict) or not isinstance(profile.get("password"), str):
            raise bad_request("Invalid value specified for property 'passwordProfile' of resource 'User'.",
                              "Request_BadRequest")
        needs = PRIVILEGED_AUTH_ROLES if privileged else {
            "User Administrator", "Privileged Authentication Administrator", "Global Administrator"}
        if not needs & app_roles:
            raise forbidden()
        if user.get("onPremisesSyncEnabled") and not call.state.tenant.get("passwordWriteback", False):
            # A synced account's password is mastered on-premises; the cloud takes a new one only through
            # password writeback.
            raise bad_request("Unable to update the specified properties for on-premises mastered Directory Sync "
                              "objects or objects currently undergoing migration.", "Request_BadRequest")
        if not password_complex_enough(profile["password"]):
            raise bad_request("The specified password does not comply with password complexity requirements. "
                              "Please provide a different password.", "Request_BadRequest")
        logged["passwordProfile"] = {**profile, "password": "[REDACTED]"}
    # All checks passed: apply. The password itself is dropped here and never stored.
    for key, value in body.items():
        if key == "passwordProfile":
            user["_passwordProfile"] = {"forceChangePasswordNextSignIn":
                                        bool(value.get("forceChangePasswordNextSignIn", False))}
            user["lastPasswordChangeDateTime"] = iso(call.now)
            call.state.remediate_risk_after_admin_reset(user["id"], call.now)
        else:
            user[key] = value
    call.target, call.logged_body = user["id"], logged
    return call.no_content()


@graph(ROUTES, "POST", "/users/{id}/revokeSignInSessions",
       perms=("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"))
async def revoke_sessions(call: Call) -> web.Response:
    user = call.state.user(call.params["id"])
    user["signInSessionsValidFromDateTime"] = iso(call.now)
    call.target = user["id"]
    return call.ok({"value": True}, context="Edm.Boolean")


# Microsoft's page: "User.Read.All and GroupMember.Read.All" at least (Group.Read.All in place of the second
# is higher), or Directory.Read.All alone.
CHECK_MEMBER_GROUPS: tuple[Perm, ...] = (*((u, g) for u in ("User.Read.All", "User.ReadWrite.All")
                         for g in ("GroupMember.Read.All", "Group.Read.All")),
                       "Directory.Read.All", "Directory.ReadWrite.All")


@graph(ROUTES, "POST", "/users/{id}/checkMemberGroups", perms=CHECK_MEMBER_GROUPS, write=False)
async def check_member_groups(call: Call) -> web.Response:
    user = call.state.user(call.params["id"])
    ids = call.body.get("groupIds") if isinstance(call.body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 20:
        raise bad_request("groupIds must be a list of at most 20 group ids.", "Request_BadRequest")
    member_of = set(call.state.groups_of(user["id"]))
    return call.ok({"value": [i for i in ids if i in member_of]}, context="Collection(Edm.String)")
