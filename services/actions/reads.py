"""Reads the actions share within one run (each one at most once per snapshot round, see
ActionContext.once), and the one read the facade lacks.

ADAPTER: the account read asks only for what the actions need (signInSessionsValidFromDateTime
among it, which revoke_sessions verifies itself with) under User.Read.All, so it does not use
Tenant.get_user_state, whose signInActivity needs AuditLog.Read.All and a P1 licence. It goes through
the same request builder but takes the body as JSON: hydrating the SDK's User model the first time
imports its whole type graph, about a second and a half with the event loop blocked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from services.actions.base import ActionContext
from services.tenant.base import parse_time
from services.tenant.errors import NotFoundError

ACCOUNT_FIELDS = ["id", "accountEnabled", "lastPasswordChangeDateTime", "signInSessionsValidFromDateTime"]


@dataclass(frozen=True, slots=True)
class AccountState:
    enabled: bool
    password_changed: datetime | None
    sessions_valid_from: datetime | None


async def _account_state(tenant: Any, user_id: str) -> AccountState:
    if not hasattr(tenant, "graph"):  # a hand-written fake tenant provides the read itself
        return await tenant.account_state(user_id=user_id)  # type: ignore[no-any-return]
    query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=ACCOUNT_FIELDS)
    u = await tenant._get_json("GET /users/{id}?$select=signInSessionsValidFromDateTime", "User.Read.All",
                               tenant.graph.users.by_user_id(user_id), query)
    if not u:
        raise NotFoundError(f"Microsoft Graph has no user {user_id}.", status=404)
    enabled = u.get("accountEnabled")
    return AccountState(enabled=bool(enabled) if enabled is not None else True,
                        password_changed=parse_time(u.get("lastPasswordChangeDateTime")),
                        sessions_valid_from=parse_time(u.get("signInSessionsValidFromDateTime")))


async def account(ctx: ActionContext) -> AccountState:
    return await ctx.once("account", lambda: _account_state(ctx.tenant, ctx.user.id))  # type: ignore[no-any-return]


async def mailbox(ctx: ActionContext) -> Any:
    return await ctx.once("mailbox", lambda: ctx.tenant.get_mailbox(mailbox=ctx.mailbox))


async def domains(ctx: ActionContext) -> tuple[str, ...]:
    async def read() -> tuple[str, ...]:
        return tuple(d.name for d in await ctx.tenant.verified_domains())

    return await ctx.once("domains", read)  # type: ignore[no-any-return]


async def graph_rules(ctx: ActionContext) -> list[Any]:
    return await ctx.once("graph_rules", lambda: ctx.tenant.list_inbox_rules(user_id=ctx.user.id))  # type: ignore[no-any-return]


async def exchange_rules(ctx: ActionContext) -> list[Any]:
    return await ctx.once("exchange_rules", lambda: ctx.tenant.list_inbox_rules_exchange(  # type: ignore[no-any-return]
        mailbox=ctx.mailbox, include_hidden=True))


async def risky(ctx: ActionContext) -> Any:
    return await ctx.once("risky", lambda: ctx.tenant.get_risky_user(user_id=ctx.user.id))
