"""`contain doctor`: is this installation able to do its job? One harmless read per permission area,
both tokens, the responders group, the channel and the database, each reported as one line.

Nothing here writes to the tenant. A 403 is reported by the permission to grant, named as in
docs/permissions.md. Checks run concurrently; the report keeps a fixed order. The same code runs
against a real tenant and the sandbox: only the endpoints behind `tenant` and `tokens` differ.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from msgraph.generated.groups.item.transitive_members.transitive_members_request_builder import (
    TransitiveMembersRequestBuilder,
)
from msgraph.generated.security.alerts_v2.alerts_v2_request_builder import Alerts_v2RequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from services.store import conversations
from services.store.db import MIGRATIONS_DIR, Store
from services.tenant.auth import EXCHANGE_SCOPE, GRAPH_SCOPE
from services.tenant.base import config
from services.tenant.errors import LicenceRequired, NotFoundError, PermissionDenied, TenantError, from_graph_exception
from services.tenant.exchange import CMDLET_ROLES
from services.tenant.facade import Tenant
from services.vocabulary import UserRef

log = logging.getLogger(__name__)

# Used where a read needs an id and none is known: a 404 still proves the permission was accepted.
NO_SUCH_ID = "00000000-0000-0000-0000-000000000000"
NOBODY = UserRef(id=NO_SUCH_ID, user_principal_name="", display_name="", account_enabled=False)
EXCHANGE_ROLE_FIX = ("grant the application permission Exchange.ManageAsApp with admin consent and give the app an "
                     "Exchange role as in docs/permissions.md (Exchange RBAC for the app).")
# One harmless cmdlet per Exchange management role Contain needs: Exchange answers a cmdlet outside the app's
# roles as "not recognized", so each probe tells whether its role is assigned.
async def _no_such(read: Awaitable[Any]) -> Any:
    # Reading an object that does not exist is harmless, and a 404 still proves the cmdlet was allowed.
    try:
        return await read
    except NotFoundError:
        return None


EXCHANGE_PROBES: dict[str, Callable[[Tenant, UserRef], Awaitable[Any]]] = {
    "Get-Recipient": lambda t, u: t.get_recipient(identity=NO_SUCH_ID),
    "Get-BlockedSenderAddress": lambda t, u: t.list_blocked_senders(),
    "Get-OrganizationConfig": lambda t, u: t.get_organization_config(),
    "Get-MailboxAuditBypassAssociation": lambda t, u: _no_such(t.get_audit_bypass(mailbox=NO_SUCH_ID)),
}


def role_fix(role: str) -> str:
    return (f"assign the app the Exchange role {role} (docs/permissions.md, Exchange RBAC for the app); assignments "
            "can take an hour to apply.")


class Tokens(Protocol):
    async def token(self, resource: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: `✓ what` or `✗ what — fix`."""

    what: str
    ok: bool
    fix: str | None = None
    detail: str | None = None  # the service's own sentence, for --json and support

    def line(self) -> str:
        return f"✓ {self.what}" if self.ok else f"✗ {self.what} — {self.fix}"

    def to_json(self) -> dict[str, Any]:
        return {"check": self.what, "ok": self.ok, "fix": self.fix, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        return [c.line() for c in self.checks]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.to_json() for c in self.checks]}


def grant(permission: str) -> str:
    return f"grant the application permission {permission} and admin consent."


@dataclass(frozen=True, slots=True)
class Area:
    """A permission area: its title, the permission to grant (docs/permissions.md's name) and a read."""

    title: str
    permission: str
    read: Callable[[Tenant, UserRef], Awaitable[Any]]
    fix: str | None = None  # when a 403 needs more than a permission (Exchange roles)
    needs_user: bool = True  # reads about one account wait for the Users check to pick one
    exchange: bool = False  # needs the Exchange Online token rather than the Graph one
    role: str | None = None  # the Exchange management role the read needs

    @property
    def what(self) -> str:
        return f"{self.title} ({self.permission})"


async def _graph(operation: str, permission: str, call: Awaitable[Any]) -> Any:
    try:
        return await call
    except Exception as exc:
        raise from_graph_exception(exc, operation=operation, permission=permission) from None


async def _list_users(tenant: Tenant) -> list[UserRef]:
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        select=["id", "userPrincipalName", "mail", "accountEnabled"], top=10)
    page = await _graph("GET /users", "User.Read.All", tenant.graph.users.get(config(query)))
    return [UserRef(id=u.id, user_principal_name=u.user_principal_name or "", display_name="",
                    account_enabled=bool(u.account_enabled), mail=u.mail)
            for u in (page.value if page else None) or [] if u.id]


async def _alerts(tenant: Tenant, _user: UserRef) -> Any:
    # One page only: Tenant.list_alerts follows every nextLink, which is not harmless on a busy tenant.
    query = Alerts_v2RequestBuilder.Alerts_v2RequestBuilderGetQueryParameters(top=1)
    return await _graph("GET /security/alerts_v2", "SecurityAlert.Read.All",
                        tenant.graph.security.alerts_v2.get(config(query)))


async def _audit_query(tenant: Tenant, _user: UserRef) -> Any:
    # Creating a query is not harmless (it queues work in Purview); reading one that does not exist is.
    try:
        return await tenant.get_audit_query(query_id=NO_SUCH_ID)
    except NotFoundError:
        return None


async def _sign_in_activity(tenant: Tenant, user: UserRef) -> Any:
    # get_user_state carries on without signInActivity when Graph refuses it; here the refusal is the answer.
    state = await tenant.get_user_state(user_id=user.id)
    if state.gaps:
        raise TenantError(state.gaps[0])
    return state


async def _registrations(tenant: Tenant, user: UserRef) -> Any:
    return await tenant.list_method_registrations(user_id=user.id, since=datetime.now(UTC) - timedelta(days=1))


def areas(responders_group_id: str | None) -> tuple[Area, ...]:
    """The areas in report order. The group-membership read uses the responders group when known."""
    group = responders_group_id or NO_SUCH_ID
    return (
        Area("Tenant domains", "Organization.Read.All", lambda t, u: t.verified_domains(), needs_user=False),
        Area("Sign-in logs", "AuditLog.Read.All",
             lambda t, u: t.list_sign_ins(user_principal_name=u.user_principal_name, top=1)),
        Area("Non-interactive sign-ins (beta)", "AuditLog.Read.All",
             lambda t, u: t.list_non_interactive_sign_ins(user_principal_name=u.user_principal_name, top=1)),
        Area("Last sign-in times (Entra ID P1)", "AuditLog.Read.All", _sign_in_activity),
        Area("Method registrations (directory audit log)", "AuditLog.Read.All", _registrations),
        Area("Identity Protection", "IdentityRiskyUser.ReadWrite.All", lambda t, u: t.get_risky_user(user_id=u.id)),
        Area("Authentication methods", "UserAuthenticationMethod.ReadWrite.All",
             lambda t, u: t.list_auth_methods(user_id=u.id)),
        Area("Default sign-in method (beta)", "UserAuthenticationMethod.ReadWrite.All",
             lambda t, u: t.get_sign_in_preferences(user_id=u.id)),
        Area("Mail rules", "MailboxSettings.ReadWrite", lambda t, u: t.list_inbox_rules(user_id=u.id)),
        Area("Directory roles", "RoleManagement.Read.Directory", lambda t, u: t.list_admin_roles(user_id=u.id)),
        Area("OAuth grants", "DelegatedPermissionGrant.ReadWrite.All",
             lambda t, u: t.list_oauth_grants(user_id=u.id)),
        Area("Secure Score", "SecurityEvents.Read.All", lambda t, u: t.list_secure_scores(top=1), needs_user=False),
        Area("Audit log query", "AuditLogsQuery-Exchange.Read.All", _audit_query, needs_user=False),
        Area("Alerts", "SecurityAlert.Read.All", _alerts, needs_user=False),
        Area("Group membership", "GroupMember.Read.All",
             lambda t, u: t.is_member_of_group(user_id=u.id, group_id=group)),
        *(Area(f"Exchange Online, {CMDLET_ROLES[cmdlet]} role ({cmdlet})",
               f"Exchange.ManageAsApp + {CMDLET_ROLES[cmdlet]}", read, fix=EXCHANGE_ROLE_FIX, needs_user=False,
               exchange=True, role=CMDLET_ROLES[cmdlet]) for cmdlet, read in EXCHANGE_PROBES.items()),
    )


def _family(permission: str) -> str:
    return permission.split(".", 1)[0]


def _denied(area: Area, exc: PermissionDenied) -> Check:
    permission = area.permission
    # A read may lean on a second permission (grants name their apps through Application.Read.All):
    # name the one the service actually refused when it is of another family.
    if exc.permission and _family(exc.permission) != _family(area.permission) and area.fix is None:
        permission = exc.permission
    what = f"{area.title} ({permission})"
    if area.role and exc.permission and exc.permission.startswith("the Exchange role"):
        # Signed in to Exchange, but the cmdlet is not in the app's roles.
        return Check(what, False, role_fix(area.role), exc.sentence)
    return Check(what, False, area.fix or grant(permission), exc.sentence)


def _token_fix(exc: TenantError, client_id: str, authority: str) -> str:
    """One sentence that says what to change, from the identity platform's error code."""
    if exc.code == "invalid_client":
        return (f"check that CONTAIN_CLIENT_SECRET or CONTAIN_CERTIFICATE_PATH holds a current credential of app "
                f"registration {client_id}.")
    if exc.code == "unauthorized_client":
        return f"check that CONTAIN_CLIENT_ID ({client_id}) is an app registration in your tenant."
    if exc.code in ("invalid_request", "invalid_tenant"):
        return "check that CONTAIN_TENANT_ID is your tenant's id or a verified domain of it."
    if exc.code:
        return f"fix the app registration as the identity platform says: {exc.sentence}"
    return f"make sure Contain reaches {authority} over HTTPS (proxy, firewall, or CONTAIN_CA_BUNDLE)."


async def _token(label: str, scope: str, tokens: Tokens, client_id: str, authority: str) -> Check:
    what = f"{label} token ({scope})"
    try:
        await tokens.token(scope)
    except TenantError as exc:
        code = f" ({exc.code})" if exc.code else ""
        return Check(what + code, False, _token_fix(exc, client_id, authority), exc.sentence)
    return Check(what, True)


async def _area(area: Area, tenant: Tenant, token: Awaitable[Check], probe: Awaitable[UserRef | None]) -> Check:
    if not (await token).ok:
        service = "Exchange Online" if area.exchange else "Microsoft Graph"
        return Check(area.what, False, f"fix the {service} token first.")
    user = await probe if area.needs_user else NOBODY
    if user is None:
        return Check(area.what, False, "fix the Users check first: this read needs an account to look at.")
    try:
        await area.read(tenant, user)
    except LicenceRequired as exc:
        return Check(area.what, False, f"the tenant needs an {exc.licence} licence for this read.", exc.sentence)
    except PermissionDenied as exc:
        return _denied(area, exc)
    except NotFoundError as exc:
        # The read was authorised; the tested account just lacks the object (a user without a mailbox).
        return Check(f"{area.what}: authorised, nothing to read on {user.user_principal_name}", True, None,
                     exc.sentence)
    except TenantError as exc:
        return Check(area.what, False, exc.sentence, exc.sentence)
    except Exception as exc:  # one bad answer must not hide the other checks
        return _unexpected(area.what, exc)
    return Check(area.what, True)


def _unexpected(what: str, exc: Exception) -> Check:
    log.warning("doctor check %r failed unexpectedly (%s)", what, type(exc).__name__)
    return Check(what, False, f"the answer could not be read ({type(exc).__name__}); run again with "
                 "CONTAIN_LOG_LEVEL=DEBUG and report the log.", type(exc).__name__)


async def _users(tenant: Tenant, token: Awaitable[Check]) -> tuple[Check, UserRef | None]:
    what = "Users (User.Read.All)"
    if not (await token).ok:
        return Check(what, False, "fix the Microsoft Graph token first."), None
    try:
        users = await _list_users(tenant)
    except PermissionDenied as exc:
        return Check(what, False, grant("User.Read.All"), exc.sentence), None
    except TenantError as exc:
        return Check(what, False, exc.sentence, exc.sentence), None
    except Exception as exc:
        return _unexpected(what, exc), None
    if not users:
        return Check(what, False, "the tenant lists no users: check that CONTAIN_TENANT_ID names your tenant."), None
    # Prefer an account with a mailbox so the mail reads have something to read.
    return Check(what, True), next((u for u in users if u.mail), users[0])


async def _responders(tenant: Tenant, group_id: str | None, token: Awaitable[Check]) -> Check:
    if not group_id:
        return Check("responders group", False, "set CONTAIN_RESPONDERS_GROUP_ID to the object id of the Entra "
                     "group whose members may act on incidents.")
    what = f"responders group {group_id}"
    if not (await token).ok:
        return Check(what, False, "fix the Microsoft Graph token first.")
    query = TransitiveMembersRequestBuilder.TransitiveMembersRequestBuilderGetQueryParameters(select=["id"], top=100)
    try:
        page = await _graph("GET /groups/{id}/transitiveMembers", "GroupMember.Read.All",
                            tenant.graph.groups.by_group_id(group_id).transitive_members.get(config(query)))
    except PermissionDenied as exc:
        return Check(what + " (GroupMember.Read.All)", False, grant("GroupMember.Read.All"), exc.sentence)
    except NotFoundError as exc:
        return Check(what, False, "no such group: set CONTAIN_RESPONDERS_GROUP_ID to an existing group's object id.",
                     exc.sentence)
    except TenantError as exc:
        return Check(what, False, exc.sentence, exc.sentence)
    except Exception as exc:
        return _unexpected(what, exc)
    members = [m for m in (page.value if page else None) or [] if (m.odata_type or "").endswith(".user")]
    more = "+" if page is not None and page.odata_next_link else ""
    if len(members) < 2:
        return Check(f"{what}: {len(members)} member(s)", False, "add at least two responders: high-impact actions "
                     "need a second, different responder to approve.")
    return Check(f"{what}: {len(members)}{more} members", True)


async def check_channel(*, store: Store, channel_id: str | None, required: bool) -> Check:
    """The security channel alert threads go to: configured, or captured by the bot and stored."""
    try:
        chosen = await conversations.get(store, key=conversations.SECURITY_CHANNEL_KEY)
        stored = await conversations.list_refs(store, kind=conversations.ConversationKind.CHANNEL)
    except Exception as exc:  # the database check reports the cause
        return Check("channel", False, "fix the database first.", type(exc).__name__)
    if channel_id:
        known = any(r["key"] == channel_id for r in stored)
        note = "its conversation reference is stored" if known else "the bot has not been added to its team yet"
        return Check(f"channel {channel_id} (CONTAIN_CHANNEL_ID; {note})", True)
    if chosen:
        chosen_id = str((chosen.get("conversation") or {}).get("id") or "?")
        return Check(f"channel {chosen_id} (chosen with /compromised set-channel)", True)
    if required:
        return Check("channel", False, "run /compromised set-channel in the security channel, or set "
                     "CONTAIN_CHANNEL_ID.")
    # Optional where nothing depends on it yet (the sandbox): the Playground's channel is captured when
    # the bot joins it, so a fresh sandbox has none and that is not a fault.
    return Check("channel: none chosen yet (optional here; /compromised set-channel in a channel chooses it)", True)


async def check_database(*, store: Store) -> Check:
    """The database opens and its schema is at the newest migration."""
    from alembic.script import ScriptDirectory

    kind = "PostgreSQL" if store.is_postgres else "SQLite" if store.is_sqlite else store.dialect
    heads = set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
    try:
        current = await store.revisions()
    except Exception as exc:
        return Check(f"database ({kind})", False, "check CONTAIN_DATABASE_URL and that the database accepts "
                     "connections, then start Contain once to migrate it.", type(exc).__name__)
    if current != heads:
        return Check(f"database ({kind}) at {', '.join(sorted(current)) or 'no revision'}", False,
                     "start Contain once (or run contain serve) so it migrates the schema to the newest revision.")
    return Check(f"database ({kind}, schema {', '.join(sorted(current))})", True)


async def run(*, tenant: Tenant, tokens: Tokens, store: Store, client_id: str, authority: str, tenant_line: str,
              responders_group_id: str | None, channel_id: str | None, channel_required: bool) -> Report:
    """Every check at once; the report in a fixed order. `tenant_line` says which tenant this is."""
    graph_token = asyncio.ensure_future(_token("Microsoft Graph", GRAPH_SCOPE, tokens, client_id, authority))
    exchange_token = asyncio.ensure_future(_token("Exchange Online", EXCHANGE_SCOPE, tokens, client_id, authority))
    users = asyncio.ensure_future(_users(tenant, graph_token))

    async def probe() -> UserRef | None:
        return (await users)[1]

    async def users_check() -> Check:
        return (await users)[0]

    probe_task = asyncio.ensure_future(probe())
    area_checks = [_area(a, tenant, exchange_token if a.exchange else graph_token, probe_task)
                   for a in areas(responders_group_id)]
    checks = await asyncio.gather(
        graph_token, exchange_token, users_check(), *area_checks,
        _responders(tenant, responders_group_id, graph_token),
        check_channel(store=store, channel_id=channel_id, required=channel_required),
        check_database(store=store),
    )
    return Report((Check(tenant_line, True), *checks))
