"""Reads the actions share within one run (each one at most once per snapshot round, see
ActionContext.once), and the one read the facade lacks.

ADAPTER: Tenant.get_user_state does not return signInSessionsValidFromDateTime, which
revoke_sessions needs to verify itself; `account_state` reads it through the same Graph client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from services.actions.base import ActionContext
from services.errors import NotFoundError, from_graph_exception

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
    cfg: RequestConfiguration[Any] = RequestConfiguration(query_parameters=query)
    try:
        u = await tenant.graph.users.by_user_id(user_id).get(cfg)
    except Exception as exc:
        raise from_graph_exception(exc, operation="GET /users/{id}?$select=signInSessionsValidFromDateTime",
                                   permission="User.Read.All") from None
    if u is None:
        raise NotFoundError(f"Microsoft Graph has no user {user_id}.", status=404)
    return AccountState(enabled=bool(u.account_enabled) if u.account_enabled is not None else True,
                        password_changed=u.last_password_change_date_time,
                        sessions_valid_from=u.sign_in_sessions_valid_from_date_time)


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
