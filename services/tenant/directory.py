"""Entra ID operations over Graph: users, sign-ins, risk, authentication methods, roles, consents.

Each read returns plain data (services.tenant.models); each write returns Graph's request id for
the audit row. Permissions named here are the least application permissions (docs/permissions.md).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from kiota_abstractions.method import Method
from msgraph.generated.audit_logs.directory_audits.directory_audits_request_builder import (
    DirectoryAuditsRequestBuilder,
)
from msgraph.generated.audit_logs.sign_ins.sign_ins_request_builder import SignInsRequestBuilder
from msgraph.generated.identity_protection.risky_users.confirm_compromised.confirm_compromised_post_request_body import (  # noqa: E501
    ConfirmCompromisedPostRequestBody,
)
from msgraph.generated.identity_protection.risky_users.dismiss.dismiss_post_request_body import DismissPostRequestBody
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.user import User
from msgraph.generated.oauth2_permission_grants.oauth2_permission_grants_request_builder import (
    Oauth2PermissionGrantsRequestBuilder,
)
from msgraph.generated.service_principals.item.service_principal_item_request_builder import (
    ServicePrincipalItemRequestBuilder,
)
from msgraph.generated.users.item.check_member_groups.check_member_groups_post_request_body import (
    CheckMemberGroupsPostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from services.tenant.base import TenantBase, config, odata_literal, parse_time, request_id, search_term
from services.tenant.errors import LicenceRequired, NotFoundError, PermissionDenied
from services.tenant.models import (
    AuthMethod,
    DirectoryRole,
    Domain,
    MethodRegistration,
    OAuthGrant,
    RiskyUser,
    SignIn,
    SignInPreferences,
    UserState,
)
from services.vocabulary import UserRef

USER_FIELDS = ["id", "userPrincipalName", "displayName", "mail", "accountEnabled"]
ACCOUNT_FIELDS = [*USER_FIELDS, "lastPasswordChangeDateTime", "createdDateTime", "signInSessionsValidFromDateTime",
                  "onPremisesSyncEnabled", "userType"]
STATE_FIELDS = [*ACCOUNT_FIELDS, "signInActivity"]
READ_USERS = "User.Read.All"
# Licences the data depends on (docs/permissions.md), named in the sentence when Graph refuses for want of one.
P1 = "Entra ID P1"
P2 = "Entra ID P2"
# The directory audit log's names for a method registration; read under AuditLog.Read.All.
REGISTRATION_ACTIVITIES = ("User registered security info", "Admin registered security info")
REGISTRATION_PAGE = 100
REGISTRATION_LIMIT = 500
# Sensitive writes on an admin need this Entra role on the app besides the permission (Graph answers 403).
ADMIN_TARGET_ROLE = "the Privileged Authentication Administrator role when the target holds an admin role"

# Graph's method type (from @odata.type) → the request builder collection that deletes it.
METHOD_COLLECTIONS = {
    "microsoftAuthenticator": ("microsoft_authenticator_methods",
                               "by_microsoft_authenticator_authentication_method_id"),
    "phone": ("phone_methods", "by_phone_authentication_method_id"),
    "fido2": ("fido2_methods", "by_fido2_authentication_method_id"),
    "email": ("email_methods", "by_email_authentication_method_id"),
    "softwareOath": ("software_oath_methods", "by_software_oath_authentication_method_id"),
    "temporaryAccessPass": ("temporary_access_pass_methods", "by_temporary_access_pass_authentication_method_id"),
    "windowsHelloForBusiness": ("windows_hello_for_business_methods",
                                "by_windows_hello_for_business_authentication_method_id"),
    "platformCredential": ("platform_credential_methods", "by_platform_credential_authentication_method_id"),
}


def method_type(odata_type: str | None) -> str:
    """`#microsoft.graph.microsoftAuthenticatorAuthenticationMethod` → `microsoftAuthenticator`."""
    name = (odata_type or "").rsplit(".", 1)[-1]
    return name.removesuffix("AuthenticationMethod") or "unknown"


def _user_ref(u: dict[str, Any]) -> UserRef:
    enabled = u.get("accountEnabled")
    return UserRef(id=str(u.get("id") or ""), user_principal_name=str(u.get("userPrincipalName") or ""),
                   display_name=str(u.get("displayName") or ""),
                   account_enabled=bool(enabled) if enabled is not None else True, mail=u.get("mail") or None)


class DirectoryOps(TenantBase):
    # ---- users -------------------------------------------------------------------------------
    async def find_users_by_address(self, *, address: str) -> list[UserRef]:
        """Users whose UPN or primary SMTP address is exactly `address`."""
        literal = odata_literal(address)
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"userPrincipalName eq {literal} or mail eq {literal}", select=USER_FIELDS, top=10)
        users = await self._list_json("GET /users?$filter", READ_USERS, self.graph.users, query, limit=10)
        return [_user_ref(u) for u in users]

    async def search_users(self, *, name: str, top: int = 25) -> list[UserRef]:
        """Users whose display name matches `name` through Graph's $search (word prefix match)."""
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            search=f'"displayName:{search_term(name)}"', select=USER_FIELDS, top=top)
        users = await self._list_json("GET /users?$search", READ_USERS, self.graph.users, query, eventual=True,
                                      limit=top)
        return [_user_ref(u) for u in users]

    async def list_users_starting_with(self, *, prefix: str, top: int = 25) -> list[UserRef]:
        """Users whose display name or UPN starts with `prefix` (used for one-letter lookups)."""
        literal = odata_literal(prefix)
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"startswith(displayName,{literal}) or startswith(userPrincipalName,{literal})",
            select=USER_FIELDS, top=top)
        users = await self._list_json("GET /users?$filter=startswith", READ_USERS, self.graph.users, query,
                                      eventual=True, limit=top)
        return [_user_ref(u) for u in users]

    async def get_user(self, *, user_id: str) -> UserRef | None:
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=USER_FIELDS)
        try:
            u = await self._get_json("GET /users/{id}", READ_USERS, self.graph.users.by_user_id(user_id), query)
        except NotFoundError:
            return None
        return _user_ref(u) if u else None

    async def get_user_state(self, *, user_id: str) -> UserState:
        """The account's state. signInActivity needs AuditLog.Read.All and an Entra ID P1 licence, and Graph
        refuses the whole $select without them: then the state is read again without it, and the missing
        part is one sentence in `gaps`."""
        builder = self.graph.users.by_user_id(user_id)
        gaps: tuple[str, ...] = ()
        try:
            u = await self._get_json("GET /users/{id}?$select=signInActivity", "User.Read.All and AuditLog.Read.All",
                                     builder, UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
                                         select=STATE_FIELDS), licence=P1)
        except PermissionDenied as exc:
            why = f"the tenant has no {exc.licence} licence" if isinstance(exc, LicenceRequired) \
                else "the app lacks AuditLog.Read.All"
            gaps = (f"Could not read the account's last sign-in times: {why}.",)
            u = await self._get_json("GET /users/{id}", READ_USERS, builder,
                                     UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
                                         select=ACCOUNT_FIELDS))
        if not u:
            raise NotFoundError(f"Microsoft Graph has no user {user_id}.", status=404)
        ref = _user_ref(u)
        activity = u.get("signInActivity") or {}
        return UserState(
            on_premises_sync=bool(u.get("onPremisesSyncEnabled")), user_type=u.get("userType"), gaps=gaps,
            id=ref.id or user_id, user_principal_name=ref.user_principal_name, display_name=ref.display_name,
            mail=ref.mail, account_enabled=ref.account_enabled,
            last_password_change=parse_time(u.get("lastPasswordChangeDateTime")),
            last_sign_in=parse_time(activity.get("lastSignInDateTime")),
            last_non_interactive_sign_in=parse_time(activity.get("lastNonInteractiveSignInDateTime")),
            created=parse_time(u.get("createdDateTime")),
            sessions_valid_from=parse_time(u.get("signInSessionsValidFromDateTime")))

    async def default_domain(self) -> str | None:
        """The tenant's default verified domain (cached: it changes about never)."""
        if self._default_domain is None:
            domains = await self.verified_domains()
            default = next((d for d in domains if d.is_default), None) or next(iter(domains), None)
            self._default_domain = default.name if default else ""
        return self._default_domain or None

    async def verified_domains(self) -> list[Domain]:
        """The tenant's verified domains (cached for the process, like the default domain)."""
        if self._domains is not None:
            return list(self._domains)
        orgs = await self._list_json("GET /organization", "Organization.Read.All", self.graph.organization)
        out: list[Domain] = []
        for org in orgs:
            for d in org.get("verifiedDomains") or []:
                if d.get("name"):
                    out.append(Domain(name=str(d["name"]), is_default=bool(d.get("isDefault")),
                                      is_initial=bool(d.get("isInitial")),
                                      federated=str(d.get("type") or "").casefold() == "federated"))
        self._domains = tuple(out)
        return out

    async def is_member_of_group(self, *, user_id: str, group_id: str) -> bool:
        """Transitive membership (checkMemberGroups), e.g. of the responders group."""
        body = CheckMemberGroupsPostRequestBody(group_ids=[group_id])
        result = await self._graph_call("POST /users/{id}/checkMemberGroups", "User.Read.All and GroupMember.Read.All",
                                        self.graph.users.by_user_id(user_id).check_member_groups.post(body, config()))
        return group_id in ((result.value if result else None) or [])

    # ---- sign-ins and risk -------------------------------------------------------------------
    async def list_sign_ins(self, *, user_principal_name: str, top: int = 50) -> list[SignIn]:
        """Interactive sign-ins (v1.0 returns no other kind)."""
        query = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(
            filter=f"userPrincipalName eq {odata_literal(user_principal_name)}", top=top)
        page = await self._get_json("GET /auditLogs/signIns", "AuditLog.Read.All", self.graph.audit_logs.sign_ins,
                                    query, licence=P1)
        return [_sign_in(s, interactive=True) for s in page.get("value") or [] if isinstance(s, dict)]

    async def list_non_interactive_sign_ins(self, *, user_principal_name: str, top: int = 50) -> list[SignIn]:
        """Non-interactive sign-ins (token refreshes, and token replay after an adversary-in-the-middle
        phish): only beta's signIns with a signInEventTypes filter returns them."""
        query = {"$filter": f"userPrincipalName eq {odata_literal(user_principal_name)} and "
                            "signInEventTypes/any(t: t eq 'nonInteractiveUser')", "$top": str(top)}
        page = await self._beta_json("GET beta /auditLogs/signIns?$filter=signInEventTypes", "AuditLog.Read.All",
                                     Method.GET, "/auditLogs/signIns", query=query, licence=P1)
        return [_sign_in(s, interactive=False) for s in page.get("value") or [] if isinstance(s, dict)]

    async def list_method_registrations(self, *, user_id: str, since: datetime) -> list[MethodRegistration]:
        """"User/Admin registered security info" events about the user since `since`, newest first."""
        activities = " or ".join(f"activityDisplayName eq {odata_literal(a)}" for a in REGISTRATION_ACTIVITIES)
        query = DirectoryAuditsRequestBuilder.DirectoryAuditsRequestBuilderGetQueryParameters(
            filter=f"activityDateTime ge {since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} and "
                   f"targetResources/any(t: t/id eq {odata_literal(user_id)}) and ({activities})",
            top=REGISTRATION_PAGE)
        items = await self._list_json("GET /auditLogs/directoryAudits", "AuditLog.Read.All",
                                      self.graph.audit_logs.directory_audits, query, limit=REGISTRATION_LIMIT)
        return [_registration(e) for e in items]

    async def get_sign_in_preferences(self, *, user_id: str) -> SignInPreferences:
        """The default second factor, which Graph refuses to delete while other methods remain (beta only)."""
        path = f"/users/{quote(user_id, safe='')}/authentication/signInPreferences"
        p = await self._beta_json("GET beta /users/{id}/authentication/signInPreferences",
                                  "UserAuthenticationMethod.Read.All", Method.GET, path)
        enabled = p.get("isSystemPreferredAuthenticationMethodEnabled")
        return SignInPreferences(default_method=p.get("userPreferredMethodForSecondaryAuthentication"),
                                 system_preferred=enabled if isinstance(enabled, bool) else None)

    async def set_default_method(self, *, user_id: str, method: str) -> str | None:
        """Make `method` (push, oath, sms, voiceMobile, …) the default second factor (beta only)."""
        path = f"/users/{quote(user_id, safe='')}/authentication/signInPreferences"
        await self._beta_json("PATCH beta /users/{id}/authentication/signInPreferences",
                              "UserAuthenticationMethod.ReadWrite.All", Method.PATCH, path,
                              body={"userPreferredMethodForSecondaryAuthentication": method})
        return None

    async def get_risky_user(self, *, user_id: str) -> RiskyUser | None:
        """Identity Protection's view of the user; None when it has no record (never risky)."""
        try:
            r = await self._get_json("GET /identityProtection/riskyUsers/{id}", "IdentityRiskyUser.Read.All",
                                     self.graph.identity_protection.risky_users.by_risky_user_id(user_id), licence=P2)
        except NotFoundError:
            return None
        return _risky(r) if r else None

    async def list_risky_users(self, *, updated_after: datetime | None = None, top: int = 100) -> list[RiskyUser]:
        """Users at risk, oldest change first when `updated_after` is given (pollers keep a cursor)."""
        from msgraph.generated.identity_protection.risky_users.risky_users_request_builder import (
            RiskyUsersRequestBuilder,
        )

        clauses = ["riskState eq 'atRisk'"]
        if updated_after is not None:
            clauses.append(f"riskLastUpdatedDateTime gt {updated_after.isoformat().replace('+00:00', 'Z')}")
        query = RiskyUsersRequestBuilder.RiskyUsersRequestBuilderGetQueryParameters(
            filter=" and ".join(clauses), top=top)
        items = await self._list_json("GET /identityProtection/riskyUsers", "IdentityRiskyUser.Read.All",
                                      self.graph.identity_protection.risky_users, query, licence=P2)
        return [_risky(r) for r in items]

    async def confirm_compromised(self, *, user_id: str) -> str | None:
        cfg = config()
        body = ConfirmCompromisedPostRequestBody(user_ids=[user_id])
        await self._graph_call("POST /identityProtection/riskyUsers/confirmCompromised",
                               "IdentityRiskyUser.ReadWrite.All",
                               self.graph.identity_protection.risky_users.confirm_compromised.post(body, cfg))
        return request_id(cfg)

    async def dismiss_risk(self, *, user_id: str) -> str | None:
        cfg = config()
        body = DismissPostRequestBody(user_ids=[user_id])
        await self._graph_call("POST /identityProtection/riskyUsers/dismiss", "IdentityRiskyUser.ReadWrite.All",
                               self.graph.identity_protection.risky_users.dismiss.post(body, cfg))
        return request_id(cfg)

    # ---- authentication methods ---------------------------------------------------------------
    async def list_auth_methods(self, *, user_id: str) -> list[AuthMethod]:
        items = await self._list_json("GET /users/{id}/authentication/methods", "UserAuthenticationMethod.Read.All",
                                      self.graph.users.by_user_id(user_id).authentication.methods)
        return [AuthMethod(id=str(m.get("id") or ""), type=method_type(m.get("@odata.type")),
                           display_name=m.get("displayName") or m.get("phoneNumber") or m.get("emailAddress"),
                           created=parse_time(m.get("createdDateTime")), raw=m) for m in items]

    async def delete_auth_method(self, *, user_id: str, method_type: str, method_id: str) -> str | None:
        if method_type not in METHOD_COLLECTIONS:
            raise ValueError(f"Authentication methods of type {method_type} cannot be deleted.")
        collection, by_id = METHOD_COLLECTIONS[method_type]
        builder = getattr(getattr(self.graph.users.by_user_id(user_id).authentication, collection), by_id)(method_id)
        cfg = config()
        await self._graph_call(f"DELETE /users/{{id}}/authentication/{method_type}Methods/{{id}}",
                               "UserAuthenticationMethod.ReadWrite.All", builder.delete(cfg))
        return request_id(cfg)

    # ---- roles and consents -------------------------------------------------------------------
    async def list_admin_roles(self, *, user_id: str) -> list[DirectoryRole]:
        items = await self._list_json("GET /users/{id}/memberOf/microsoft.graph.directoryRole",
                                      "RoleManagement.Read.Directory",
                                      self.graph.users.by_user_id(user_id).member_of.graph_directory_role)
        return [DirectoryRole(id=str(r.get("id") or ""), display_name=str(r.get("displayName") or ""),
                              role_template_id=r.get("roleTemplateId")) for r in items]

    async def remove_admin_role(self, *, role_id: str, user_id: str) -> str | None:
        cfg = config()
        ref = self.graph.directory_roles.by_directory_role_id(role_id).members.by_directory_object_id(user_id).ref
        await self._graph_call("DELETE /directoryRoles/{id}/members/{id}/$ref", "RoleManagement.ReadWrite.Directory",
                               ref.delete(cfg))
        return request_id(cfg)

    async def list_oauth_grants(self, *, user_id: str) -> list[OAuthGrant]:
        # /users/{id}/oauth2PermissionGrants is not supported with application permissions (Microsoft's
        # "List a user's oauth2PermissionGrants"); the tenant-wide collection filtered by principal is.
        query = Oauth2PermissionGrantsRequestBuilder.Oauth2PermissionGrantsRequestBuilderGetQueryParameters(
            filter=f"principalId eq {odata_literal(user_id)}")
        grants = await self._list_json("GET /oauth2PermissionGrants?$filter=principalId",
                                       "DelegatedPermissionGrant.Read.All", self.graph.oauth2_permission_grants, query)
        client_ids = list(dict.fromkeys(str(g["clientId"]) for g in grants if g.get("clientId")))
        apps = dict(zip(client_ids, await asyncio.gather(*(self._service_principal(c) for c in client_ids)),
                        strict=True))
        out = []
        for g in grants:
            name, app_id = apps.get(str(g.get("clientId") or ""), (None, None))
            out.append(OAuthGrant(id=str(g.get("id") or ""), client_id=str(g.get("clientId") or ""),
                                  client_display_name=name, client_app_id=app_id, consent_type=g.get("consentType"),
                                  principal_id=g.get("principalId"), resource_id=g.get("resourceId"),
                                  scopes=tuple(str(g.get("scope") or "").split())))
        return out

    async def _service_principal(self, sp_id: str) -> tuple[str | None, str | None]:
        """(displayName, appId) of a consented app. Cached for the process: an app's name and app id do
        not change, and without the cache every investigation would pay a second round trip."""
        if sp_id in self._service_principals:
            return self._service_principals[sp_id]
        query = ServicePrincipalItemRequestBuilder.ServicePrincipalItemRequestBuilderGetQueryParameters(
            select=["id", "displayName", "appId"])
        try:
            sp = await self._get_json("GET /servicePrincipals/{id}", "Application.Read.All",
                                      self.graph.service_principals.by_service_principal_id(sp_id), query)
        except NotFoundError:
            return None, None
        found = (sp.get("displayName"), sp.get("appId"))
        self._service_principals[sp_id] = found
        return found

    async def delete_oauth_grant(self, *, grant_id: str) -> str | None:
        cfg = config()
        await self._graph_call("DELETE /oauth2PermissionGrants/{id}", "DelegatedPermissionGrant.ReadWrite.All",
                               self.graph.oauth2_permission_grants.by_o_auth2_permission_grant_id(grant_id).delete(cfg))
        return request_id(cfg)

    # ---- account writes -----------------------------------------------------------------------
    async def revoke_sessions(self, *, user_id: str) -> str | None:
        cfg = config()
        await self._graph_call("POST /users/{id}/revokeSignInSessions", "User.RevokeSessions.All",
                               self.graph.users.by_user_id(user_id).revoke_sign_in_sessions.post(cfg))
        return request_id(cfg)

    async def set_account_enabled(self, *, user_id: str, enabled: bool) -> str | None:
        cfg = config()
        await self._graph_call("PATCH /users/{id} accountEnabled",
                               f"User.EnableDisableAccount.All and {ADMIN_TARGET_ROLE}",
                               self.graph.users.by_user_id(user_id).patch(User(account_enabled=enabled), cfg))
        return request_id(cfg)

    async def set_password(self, *, user_id: str, password: str, force_change: bool = True) -> str | None:
        """PATCH passwordProfile. The password travels in the body only; it never reaches an error or log."""
        cfg = config()
        profile = PasswordProfile(password=password, force_change_password_next_sign_in=force_change)
        body = User(password_profile=profile)
        await self._graph_call("PATCH /users/{id} passwordProfile",
                               "User-PasswordProfile.ReadWrite.All and the User Administrator role (or "
                               f"{ADMIN_TARGET_ROLE})",
                               self.graph.users.by_user_id(user_id).patch(body, cfg))
        return request_id(cfg)


def _sign_in(s: dict[str, Any], *, interactive: bool) -> SignIn:
    loc = s.get("location") or {}
    status = s.get("status") or {}
    return SignIn(id=str(s.get("id") or ""), created=parse_time(s.get("createdDateTime")),
                  ip_address=s.get("ipAddress"), country=loc.get("countryOrRegion"), city=loc.get("city"),
                  app=s.get("appDisplayName"), client_app_used=s.get("clientAppUsed"),
                  error_code=status.get("errorCode"), risk_level=s.get("riskLevelDuringSignIn"),
                  user_agent=s.get("userAgent"), interactive=interactive)


# How the log's resultReason names a method ("User registered Mobile Phone SMS"), most specific first.
REGISTRATION_KINDS = (
    ("alternate mobile", "phone", "alternateMobile"), ("office phone", "phone", "office"),
    ("mobile phone", "phone", "mobile"), ("phone", "phone", "mobile"),
    ("authenticator app", "microsoftAuthenticator", None), ("email", "email", None),
    ("fido", "fido2", None), ("security key", "fido2", None), ("passkey", "fido2", None),
    ("software oath", "softwareOath", None), ("hardware oath", "softwareOath", None),
    ("windows hello", "windowsHelloForBusiness", None), ("temporary access pass", "temporaryAccessPass", None),
)


def registration_kind(text: str) -> tuple[str | None, str | None]:
    low = text.casefold()
    return next(((kind, phone) for words, kind, phone in REGISTRATION_KINDS if words in low), (None, None))


def _registration(e: dict[str, Any]) -> MethodRegistration:
    initiator = (e.get("initiatedBy") or {}).get("user") or {}
    reason = str(e.get("resultReason") or "")
    details = " ".join(str(d.get("value") or "") for d in e.get("additionalDetails") or [] if isinstance(d, dict))
    kind, phone = registration_kind(f"{reason} {details}")
    return MethodRegistration(at=parse_time(e.get("activityDateTime")), method_type=kind, phone_type=phone,
                              ip_address=initiator.get("ipAddress") or None,
                              by_admin=str(e.get("activityDisplayName") or "").startswith("Admin"),
                              initiated_by=initiator.get("userPrincipalName"), detail=reason or None)


def _risky(r: dict[str, Any]) -> RiskyUser:
    return RiskyUser(id=str(r.get("id") or ""), user_principal_name=r.get("userPrincipalName"),
                     risk_level=r.get("riskLevel"), risk_state=r.get("riskState"), risk_detail=r.get("riskDetail"),
                     last_updated=parse_time(r.get("riskLastUpdatedDateTime")))
