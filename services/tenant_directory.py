"""Entra ID operations over Graph: users, sign-ins, risk, authentication methods, roles, consents.

Each read returns plain data (services.tenant_models); each write returns Graph's request id for
the audit row. Permissions named here are the least application permissions (docs/permissions.md).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from msgraph.generated.audit_logs.sign_ins.sign_ins_request_builder import SignInsRequestBuilder
from msgraph.generated.identity_protection.risky_users.confirm_compromised.confirm_compromised_post_request_body import (  # noqa: E501
    ConfirmCompromisedPostRequestBody,
)
from msgraph.generated.identity_protection.risky_users.dismiss.dismiss_post_request_body import DismissPostRequestBody
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.user import User
from msgraph.generated.service_principals.item.service_principal_item_request_builder import (
    ServicePrincipalItemRequestBuilder,
)
from msgraph.generated.users.item.check_member_groups.check_member_groups_post_request_body import (
    CheckMemberGroupsPostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from services.errors import NotFoundError
from services.tenant_base import TenantBase, config, enum_text, odata_literal, request_id, search_term, to_json
from services.tenant_models import AuthMethod, DirectoryRole, Domain, OAuthGrant, RiskyUser, SignIn, UserState
from services.vocabulary import UserRef

USER_FIELDS = ["id", "userPrincipalName", "displayName", "mail", "accountEnabled"]
STATE_FIELDS = [*USER_FIELDS, "lastPasswordChangeDateTime", "signInActivity", "createdDateTime"]
READ_USERS = "User.Read.All"

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


def _user_ref(u: Any) -> UserRef:
    return UserRef(id=u.id, user_principal_name=u.user_principal_name or "", display_name=u.display_name or "",
                   account_enabled=bool(u.account_enabled) if u.account_enabled is not None else True, mail=u.mail)


class DirectoryOps(TenantBase):
    # ---- users -------------------------------------------------------------------------------
    async def find_users_by_address(self, *, address: str) -> list[UserRef]:
        """Users whose UPN or primary SMTP address is exactly `address`."""
        literal = odata_literal(address)
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"userPrincipalName eq {literal} or mail eq {literal}", select=USER_FIELDS, top=10)
        users = await self._graph_call("GET /users?$filter", READ_USERS, self.graph.users.get(config(query)))
        return [_user_ref(u) for u in (users.value if users else None) or []]

    async def search_users(self, *, name: str, top: int = 25) -> list[UserRef]:
        """Users whose display name matches `name` through Graph's $search (word prefix match)."""
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            search=f'"displayName:{search_term(name)}"', select=USER_FIELDS, top=top)
        users = await self._graph_call("GET /users?$search", READ_USERS,
                                       self.graph.users.get(config(query, eventual=True)))
        return [_user_ref(u) for u in (users.value if users else None) or []]

    async def list_users_starting_with(self, *, prefix: str, top: int = 25) -> list[UserRef]:
        """Users whose display name or UPN starts with `prefix` (used for one-letter lookups)."""
        literal = odata_literal(prefix)
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"startswith(displayName,{literal}) or startswith(userPrincipalName,{literal})",
            select=USER_FIELDS, top=top)
        users = await self._graph_call("GET /users?$filter=startswith", READ_USERS,
                                       self.graph.users.get(config(query, eventual=True)))
        return [_user_ref(u) for u in (users.value if users else None) or []]

    async def get_user(self, *, user_id: str) -> UserRef | None:
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=USER_FIELDS)
        try:
            u = await self._graph_call("GET /users/{id}", READ_USERS,
                                       self.graph.users.by_user_id(user_id).get(config(query)))
        except NotFoundError:
            return None
        return _user_ref(u) if u else None

    async def get_user_state(self, *, user_id: str) -> UserState:
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=STATE_FIELDS)
        u = await self._graph_call("GET /users/{id}?$select=signInActivity", "User.Read.All and AuditLog.Read.All",
                                   self.graph.users.by_user_id(user_id).get(config(query)))
        if u is None:
            raise NotFoundError(f"Microsoft Graph has no user {user_id}.", status=404)
        activity = u.sign_in_activity
        return UserState(
            id=u.id or user_id, user_principal_name=u.user_principal_name or "", display_name=u.display_name or "",
            mail=u.mail, account_enabled=bool(u.account_enabled) if u.account_enabled is not None else True,
            last_password_change=u.last_password_change_date_time,
            last_sign_in=activity.last_sign_in_date_time if activity else None,
            last_non_interactive_sign_in=activity.last_non_interactive_sign_in_date_time if activity else None,
            created=u.created_date_time)

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
        orgs = await self._graph_call("GET /organization", "Organization.Read.All",
                                      self.graph.organization.get(config()))
        out: list[Domain] = []
        for org in (orgs.value if orgs else None) or []:
            for d in org.verified_domains or []:
                if d.name:
                    out.append(Domain(name=d.name, is_default=bool(d.is_default), is_initial=bool(d.is_initial)))
        self._domains = tuple(out)
        return out

    async def is_member_of_group(self, *, user_id: str, group_id: str) -> bool:
        """Transitive membership (checkMemberGroups), e.g. of the responders group."""
        body = CheckMemberGroupsPostRequestBody(group_ids=[group_id])
        result = await self._graph_call("POST /users/{id}/checkMemberGroups", "GroupMember.Read.All",
                                        self.graph.users.by_user_id(user_id).check_member_groups.post(body, config()))
        return group_id in ((result.value if result else None) or [])

    # ---- sign-ins and risk -------------------------------------------------------------------
    async def list_sign_ins(self, *, user_principal_name: str, top: int = 50) -> list[SignIn]:
        query = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(
            filter=f"userPrincipalName eq {odata_literal(user_principal_name)}", top=top)
        page = await self._graph_call("GET /auditLogs/signIns", "AuditLog.Read.All",
                                      self.graph.audit_logs.sign_ins.get(config(query)))
        out = []
        for s in (page.value if page else None) or []:
            loc = s.location
            out.append(SignIn(
                id=s.id or "", created=s.created_date_time, ip_address=s.ip_address,
                country=loc.country_or_region if loc else None, city=loc.city if loc else None,
                app=s.app_display_name, client_app_used=s.client_app_used,
                error_code=s.status.error_code if s.status else None,
                risk_level=enum_text(s.risk_level_during_sign_in), user_agent=s.user_agent))
        return out

    async def get_risky_user(self, *, user_id: str) -> RiskyUser | None:
        """Identity Protection's view of the user; None when it has no record (never risky)."""
        try:
            r = await self._graph_call("GET /identityProtection/riskyUsers/{id}", "IdentityRiskyUser.Read.All",
                                       self.graph.identity_protection.risky_users.by_risky_user_id(user_id).get(
                                           config()))
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
        builder = self.graph.identity_protection.risky_users
        items = await self._graph_pages("GET /identityProtection/riskyUsers", "IdentityRiskyUser.Read.All",
                                        builder.get(config(query)), lambda link: builder.with_url(link).get(config()))
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
        page = await self._graph_call("GET /users/{id}/authentication/methods", "UserAuthenticationMethod.Read.All",
                                      self.graph.users.by_user_id(user_id).authentication.methods.get(config()))
        out = []
        for m in (page.value if page else None) or []:
            raw = to_json(m)
            out.append(AuthMethod(id=m.id or "", type=method_type(m.odata_type),
                                  display_name=getattr(m, "display_name", None) or raw.get("phoneNumber")
                                  or raw.get("emailAddress"),
                                  created=m.created_date_time, raw=raw))
        return out

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
        builder = self.graph.users.by_user_id(user_id).member_of.graph_directory_role
        items = await self._graph_pages("GET /users/{id}/memberOf/microsoft.graph.directoryRole",
                                        "RoleManagement.Read.Directory", builder.get(config()),
                                        lambda link: builder.with_url(link).get(config()))
        return [DirectoryRole(id=r.id or "", display_name=r.display_name or "", role_template_id=r.role_template_id)
                for r in items]

    async def remove_admin_role(self, *, role_id: str, user_id: str) -> str | None:
        cfg = config()
        ref = self.graph.directory_roles.by_directory_role_id(role_id).members.by_directory_object_id(user_id).ref
        await self._graph_call("DELETE /directoryRoles/{id}/members/{id}/$ref", "RoleManagement.ReadWrite.Directory",
                               ref.delete(cfg))
        return request_id(cfg)

    async def list_oauth_grants(self, *, user_id: str) -> list[OAuthGrant]:
        builder = self.graph.users.by_user_id(user_id).oauth2_permission_grants
        grants = await self._graph_pages("GET /users/{id}/oauth2PermissionGrants", "DelegatedPermissionGrant.Read.All",
                                         builder.get(config()), lambda link: builder.with_url(link).get(config()))
        apps = await asyncio.gather(*(self._service_principal(g.client_id) for g in grants if g.client_id))
        names = dict(zip([g.client_id for g in grants if g.client_id], apps, strict=True))
        return [OAuthGrant(id=g.id or "", client_id=g.client_id or "",
                           client_display_name=names.get(g.client_id, (None, None))[0],
                           client_app_id=names.get(g.client_id, (None, None))[1], consent_type=g.consent_type,
                           principal_id=g.principal_id, resource_id=g.resource_id,
                           scopes=tuple((g.scope or "").split())) for g in grants]

    async def _service_principal(self, sp_id: str) -> tuple[str | None, str | None]:
        """(displayName, appId) of a consented app. Cached for the process: an app's name and app id do
        not change, and without the cache every investigation would pay a second round trip."""
        if sp_id in self._service_principals:
            return self._service_principals[sp_id]
        query = ServicePrincipalItemRequestBuilder.ServicePrincipalItemRequestBuilderGetQueryParameters(
            select=["id", "displayName", "appId"])
        try:
            sp = await self._graph_call("GET /servicePrincipals/{id}", "Application.Read.All",
                                        self.graph.service_principals.by_service_principal_id(sp_id).get(
                                            config(query)))
        except NotFoundError:
            return None, None
        found = (sp.display_name, sp.app_id) if sp else (None, None)
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
        await self._graph_call("PATCH /users/{id} accountEnabled", "User.EnableDisableAccount.All",
                               self.graph.users.by_user_id(user_id).patch(User(account_enabled=enabled), cfg))
        return request_id(cfg)

    async def set_password(self, *, user_id: str, password: str, force_change: bool = True) -> str | None:
        """PATCH passwordProfile. The password travels in the body only; it never reaches an error or log."""
        cfg = config()
        profile = PasswordProfile(password=password, force_change_password_next_sign_in=force_change)
        body = User(password_profile=profile)
        await self._graph_call("PATCH /users/{id} passwordProfile",
                               "User.ReadWrite.All and the User Administrator role",
                               self.graph.users.by_user_id(user_id).patch(body, cfg))
        return request_id(cfg)


def _risky(r: Any) -> RiskyUser:
    return RiskyUser(id=r.id or "", user_principal_name=r.user_principal_name, risk_level=enum_text(r.risk_level),
                     risk_state=enum_text(r.risk_state), risk_detail=enum_text(r.risk_detail),
                     last_updated=r.risk_last_updated_date_time)
