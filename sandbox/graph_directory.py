"""Graph directory objects around a user: memberOf and directory roles, groups (transitive members),
OAuth2 permission grants, service principals and the organization."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox import odata
from sandbox.errors import forbidden, not_found
from sandbox.graph_users import DEFAULT_USER, USER_READ
from sandbox.routing import Call, Route, graph

ROUTES: list[Route] = []

ROLE_READ = ("RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory", "Directory.Read.All",
             "Directory.ReadWrite.All")
MEMBER_READ = ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All", "Directory.ReadWrite.All")
GRANT_READ = ("DelegatedPermissionGrant.Read.All", "DelegatedPermissionGrant.ReadWrite.All", "Directory.Read.All",
              "Directory.ReadWrite.All")
SP_READ = ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")


def _role(role: dict[str, Any]) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.directoryRole", "id": role["id"], "deletedDateTime": None,
            "description": role.get("description"), "displayName": role["displayName"],
            "roleTemplateId": role["roleTemplateId"]}


def _group(group: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in group.items() if k != "members"}
    out.setdefault("mailEnabled", False)
    out.setdefault("securityEnabled", True)
    out.setdefault("groupTypes", [])
    return {"@odata.type": "#microsoft.graph.group", **out}


# servicePrincipal properties in Graph v1.0 (CSDL), with directoryObject's.
SP_PROPERTIES = tuple("""
    id deletedDateTime accountEnabled addIns alternativeNames appDescription appDisplayName appId
    appOwnerOrganizationId appRoleAssignmentRequired appRoles applicationTemplateId createdByAppId
    customSecurityAttributes description disabledByMicrosoftStatus displayName homepage info isDisabled
    keyCredentials loginUrl logoutUrl notes notificationEmailAddresses oauth2PermissionScopes
    passwordCredentials preferredSingleSignOnMode preferredTokenSigningKeyThumbprint replyUrls
    resourceSpecificApplicationPermissions samlSingleSignOnSettings servicePrincipalNames
    servicePrincipalType signInAudience tags tokenEncryptionKeyId verifiedPublisher
""".split())

def _directory_object(call: Call, object_id: str) -> dict[str, Any]:
    found = call.state.object(object_id)
    if found is None:
        return {"@odata.type": "#microsoft.graph.directoryObject", "id": object_id}
    kind, obj = found
    if kind == "users":
        return {"@odata.type": "#microsoft.graph.user", **odata.project(obj, None, DEFAULT_USER)}
    if kind == "groups":
        return _group(obj)
    if kind == "directoryRoles":
        return _role(obj)
    return {"@odata.type": "#microsoft.graph.servicePrincipal", **_service_principal(obj)}


def _service_principal(sp: dict[str, Any], select: list[str] | None = None) -> dict[str, Any]:
    """A service principal as v1.0 shows it: fixture keys v1.0 does not define (publisherName,
    createdDateTime are beta's) are not answered."""
    shown = {k: v for k, v in sp.items() if k in SP_PROPERTIES}
    return odata.project(shown, select, None) if select is not None else shown


def _select_members(call: Call) -> list[str] | None:
    # Members are users, groups and service principals: Graph accepts any of their properties.
    known = ("id", "displayName", "userPrincipalName", "mail", "accountEnabled", "appId", "mailEnabled",
             "securityEnabled", "description")
    return odata.parse_select(call.query.get("$select"), known, "microsoft.graph.directoryObject")


@graph(ROUTES, "GET", "/users/{id}/memberOf", perms=(*USER_READ, *MEMBER_READ), query={"$top", "$skiptoken"})
async def member_of(call: Call) -> web.Response:
    user = call.state.user(call.params["id"])
    items = [_group(g) for g in call.state.data["groups"] if user["id"] in g["members"]]
    items += [_role(r) for r in call.state.roles_of(user["id"])]
    return call.page(items, context="directoryObjects", default_size=100, max_size=999)


@graph(ROUTES, "GET", "/users/{id}/memberOf/microsoft.graph.directoryRole", perms=(*USER_READ, *ROLE_READ),
       query={"$select", "$top", "$skiptoken"})
@graph(ROUTES, "GET", "/users/{id}/memberOf/graph.directoryRole", perms=(*USER_READ, *ROLE_READ),
       query={"$select", "$top", "$skiptoken"})  # the short cast form msgraph-sdk sends; Graph accepts both
async def member_of_roles(call: Call) -> web.Response:
    user = call.state.user(call.params["id"])
    select = odata.parse_select(call.query.get("$select"),
                                ("id", "deletedDateTime", "description", "displayName", "roleTemplateId"),
                                "microsoft.graph.directoryRole")
    roles = [_role(r) if call.perms & set(ROLE_READ) else _limited(_role(r)) for r in call.state.roles_of(user["id"])]
    items = [odata.project(r, select, None) for r in roles]
    return call.page(items, context="directoryRoles", default_size=100, max_size=999)


def _limited(obj: dict[str, Any]) -> dict[str, Any]:
    """Graph's limited-information answer: a caller allowed to list memberships but not to read the member
    object gets its type and id, every other property null."""
    return {k: (v if k in ("@odata.type", "id") else None) for k, v in obj.items()}


@graph(ROUTES, "GET", "/directoryRoles", perms=ROLE_READ, query={"$select", "$filter"})
async def list_roles(call: Call) -> web.Response:
    roles = [_role(r) for r in call.state.data["directoryRoles"]]
    if "$filter" in call.query:
        match = odata.compile_filter(call.query["$filter"], {"roleTemplateId": odata.field("roleTemplateId"),
                                                              "displayName": odata.field("displayName")},
                                     "DirectoryRole")
        roles = [r for r in roles if match(r)]
    return call.ok({"value": roles}, context="directoryRoles")


def _find_role(call: Call, role_id: str) -> dict[str, Any]:
    roles: list[dict[str, Any]] = call.state.data["directoryRoles"]
    for role in roles:
        if role["id"] == role_id:
            return role
    raise not_found(role_id)


@graph(ROUTES, "GET", "/directoryRoles/{roleId}/members", perms=ROLE_READ)
async def role_members(call: Call) -> web.Response:
    role = _find_role(call, call.params["roleId"])
    return call.ok({"value": [_directory_object(call, m) for m in role.get("members", [])]},
                   context="directoryObjects")


@graph(ROUTES, "DELETE", "/directoryRoles/{roleId}/members/{userId}/$ref",
       perms=("RoleManagement.ReadWrite.Directory",))
async def remove_role_member(call: Call) -> web.Response:
    role = _find_role(call, call.params["roleId"])
    user_id = call.params["userId"]
    if user_id not in role.get("members", []):
        raise not_found(user_id)
    role["members"].remove(user_id)
    call.target = user_id
    return call.no_content()


@graph(ROUTES, "GET", "/groups/{id}", perms=MEMBER_READ, query={"$select"})
async def get_group(call: Call) -> web.Response:
    return call.ok(_group(call.state.group(call.params["id"])), context="groups/$entity")


@graph(ROUTES, "GET", "/groups/{id}/members", perms=MEMBER_READ, query={"$top", "$skiptoken", "$select"})
async def group_members(call: Call) -> web.Response:
    group = call.state.group(call.params["id"])
    items = [_directory_object(call, m) for m in group["members"]]
    return call.page(items, context="directoryObjects", default_size=100, max_size=999)


@graph(ROUTES, "GET", "/groups/{id}/transitiveMembers", perms=MEMBER_READ, query={"$top", "$skiptoken", "$select"})
async def transitive_members(call: Call) -> web.Response:
    select = _select_members(call)
    items = [odata.project(_directory_object(call, m), select, None)
             for m in call.state.transitive_members(call.params["id"])]
    return call.page(items, context="directoryObjects", default_size=100, max_size=999)


@graph(ROUTES, "GET", "/users/{id}/oauth2PermissionGrants", perms=GRANT_READ, query={"$top", "$skiptoken"})
async def user_grants(call: Call) -> web.Response:
    # Microsoft's page "List a user's oauth2PermissionGrants" lists application permissions as not
    # supported: an app-only token is refused whatever it holds (apps read /oauth2PermissionGrants with
    # a principalId filter instead).
    if call.claims.get("idtyp") == "app":
        raise forbidden()
    user = call.state.user(call.params["id"])
    grants = [g for g in call.state.data["oauth2PermissionGrants"] if g.get("principalId") == user["id"]]
    return call.page(grants, context="oauth2PermissionGrants", default_size=100, max_size=999)


@graph(ROUTES, "GET", "/oauth2PermissionGrants", perms=GRANT_READ, query={"$filter", "$top", "$skiptoken"})
async def list_grants(call: Call) -> web.Response:
    grants = list(call.state.data["oauth2PermissionGrants"])
    if "$filter" in call.query:
        match = odata.compile_filter(call.query["$filter"], {k: odata.field(k) for k in (
            "clientId", "principalId", "resourceId", "consentType")}, "OAuth2PermissionGrant")
        grants = [g for g in grants if match(g)]
    return call.page(grants, context="oauth2PermissionGrants", default_size=100, max_size=999)


@graph(ROUTES, "GET", "/oauth2PermissionGrants/{id}", perms=GRANT_READ)
async def get_grant(call: Call) -> web.Response:
    for grant in call.state.data["oauth2PermissionGrants"]:
        if grant["id"] == call.params["id"]:
            return call.ok(grant, context="oauth2PermissionGrants/$entity")
    raise not_found(call.params["id"])


@graph(ROUTES, "DELETE", "/oauth2PermissionGrants/{id}", perms=("DelegatedPermissionGrant.ReadWrite.All",))
async def delete_grant(call: Call) -> web.Response:
    grants = call.state.data["oauth2PermissionGrants"]
    for grant in grants:
        if grant["id"] == call.params["id"]:
            grants.remove(grant)
            call.target = grant["id"]
            return call.no_content()
    raise not_found(call.params["id"])


@graph(ROUTES, "GET", "/servicePrincipals", perms=SP_READ, query={"$filter", "$select", "$top", "$skiptoken"})
async def list_sps(call: Call) -> web.Response:
    select = odata.parse_select(call.query.get("$select"), SP_PROPERTIES, "microsoft.graph.servicePrincipal")
    sps = list(call.state.data["servicePrincipals"])
    if "$filter" in call.query:
        match = odata.compile_filter(call.query["$filter"], {"appId": odata.field("appId", ops=("eq", "in")),
                                                              "id": odata.field("id", ops=("eq", "in")),
                                                              "displayName": odata.field("displayName",
                                                                                         ops=("eq", "startswith"))},
                                     "ServicePrincipal")
        sps = [s for s in sps if match(s)]
    return call.page([_service_principal(sp, select) for sp in sps], context="servicePrincipals", default_size=100,
                     max_size=999)


@graph(ROUTES, "GET", "/servicePrincipals/{id}", perms=SP_READ, query={"$select"})
async def get_sp(call: Call) -> web.Response:
    select = odata.parse_select(call.query.get("$select"), SP_PROPERTIES, "microsoft.graph.servicePrincipal")
    for sp in call.state.data["servicePrincipals"]:
        if sp["id"] == call.params["id"]:
            return call.ok(_service_principal(sp, select), context="servicePrincipals/$entity")
    raise not_found(call.params["id"])


@graph(ROUTES, "GET", "/organization", perms=("Organization.Read.All", "Directory.Read.All", "User.Read.All"),
       query={"$select"})
async def organization(call: Call) -> web.Response:
    t = call.state.tenant
    if "$select" in call.query:
        odata.parse_select(call.query["$select"], ("id", "displayName", "verifiedDomains", "countryLetterCode",
                                                   "tenantType", "createdDateTime"), "microsoft.graph.organization")
    federated = {d.lower() for d in t.get("federatedDomains", [])}
    domains = [{"name": d, "isDefault": d == t["defaultDomain"], "isInitial": d.endswith(".onmicrosoft.com"),
                "type": "Federated" if d.lower() in federated else "Managed",
                "capabilities": "Email, OfficeCommunicationsOnline"}
               for d in t.get("verifiedDomains", [t["defaultDomain"]])]
    org = {"id": t["id"], "displayName": t["displayName"], "tenantType": "AAD", "verifiedDomains": domains,
           "countryLetterCode": t.get("countryLetterCode", "US"), "createdDateTime": t.get("createdDateTime")}
    return call.ok({"value": [org]}, context="organization")

