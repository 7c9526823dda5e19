"""Identity actions over Graph: Identity Protection risk, authentication methods, admin roles and
app consents. Each action addresses exactly what the incident's findings flagged (ActionContext.targets);
asked for without an investigation, it applies the finding's own rule (services.findings.rules) to the
state it reads, never a second rule, so after it runs the investigation no longer reports what it fixed."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from services.actions import reads
from services.actions.base import Action, ActionContext, Write, at_or_after, iso, parse_iso
from services.findings.rules import KNOWN_APP_IDS, flagged_methods, grant_findings
from services.tenant.errors import TenantError
from services.tenant.models import OAuthGrant
from services.vocabulary import ActionId


def _risk_snapshot(risky: Any) -> dict[str, Any]:
    if risky is None:
        return {"riskyUser": None}
    return {"riskyUser": {"id": risky.id, "riskLevel": risky.risk_level, "riskState": risky.risk_state,
                          "riskDetail": risky.risk_detail, "riskLastUpdatedDateTime": iso(risky.last_updated)}}


def _risk_state(snapshot: dict[str, Any]) -> str:
    return str((snapshot.get("riskyUser") or {}).get("riskState") or "none")


class ConfirmCompromised(Action):
    id = ActionId.CONFIRM_COMPROMISED
    nothing_to_do = "Skipped: Identity Protection already rates the account confirmed compromised."
    done_sentence = "Identity Protection now rates the account confirmed compromised."

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        return _risk_snapshot(await reads.risky(ctx))

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        if _risk_state(snapshot) == "confirmedCompromised":
            return []
        user_id = ctx.user.id

        async def send(writer: Any) -> str | None:
            return await writer.confirm_compromised(user_id=user_id)  # type: ignore[no-any-return]

        return [Write(key="risk", summary="Confirmed the account compromised in Identity Protection.", send=send)]

    def satisfied(self, ctx: ActionContext, after: dict[str, Any], before: dict[str, Any] | None) -> bool:
        # An admin password reset that lands after the confirmation closes the risk ("remediated"), as
        # Identity Protection does: the confirmation was recorded all the same.
        risky = after.get("riskyUser") or {}
        if risky.get("riskState") == "confirmedCompromised":
            return True
        return (risky.get("riskState") == "remediated"
                and at_or_after(parse_iso(risky.get("riskLastUpdatedDateTime")), ctx.since))


class DismissRisk(Action):
    id = ActionId.DISMISS_RISK
    nothing_to_do = "Skipped: the account carries no user risk."
    done_sentence = "User risk dismissed."

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        return _risk_snapshot(await reads.risky(ctx))

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        if _risk_state(snapshot) in ("none", "dismissed", "remediated"):
            return []
        user_id = ctx.user.id

        async def send(writer: Any) -> str | None:
            return await writer.dismiss_risk(user_id=user_id)  # type: ignore[no-any-return]

        return [Write(key="risk", summary="Dismissed the account's user risk.", send=send)]


class ResetMfa(Action):
    """Removes the authentication methods the mfa_method_added finding flagged (ctx.targets). Asked for
    without an investigation, it removes what that same rule flags now (services.findings.rules
    .flagged_methods); with the option `all_but_password`, every method except the password."""

    id = ActionId.RESET_MFA
    nothing_to_do = "Skipped: no flagged authentication method is left."
    done_sentence = "The flagged authentication methods were removed."

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        flagged = ctx.targets(self.id)
        everything = bool(ctx.options.get("all_but_password"))
        methods_read = ctx.once("methods", lambda: ctx.tenant.list_auth_methods(user_id=ctx.user.id))
        # The default second factor decides the order of deletions (Graph refuses the default while others
        # remain).
        prefs_read = ctx.once("sign_in_preferences", lambda: _optional(ctx.tenant.get_sign_in_preferences(
            user_id=ctx.user.id)))
        if flagged is not None or everything:
            methods, prefs = await asyncio.gather(methods_read, prefs_read)
        else:
            # No finding named any method: apply the investigation's own rule to what the tenant says now.
            since = ctx.clock() - REGISTRATION_LOOKBACK
            events_read = ctx.once("registrations", lambda: _optional(ctx.tenant.list_method_registrations(
                user_id=ctx.user.id, since=since)))
            sign_ins_read = ctx.once("sign_ins", lambda: ctx.tenant.list_sign_ins(
                user_principal_name=ctx.user.user_principal_name))
            methods, prefs, events, sign_ins = await asyncio.gather(methods_read, prefs_read, events_read,
                                                                    sign_ins_read)
            flagged = flagged_methods(tuple(methods), sign_ins=tuple(sign_ins), now=ctx.clock(),
                                      registrations=tuple(events) if events is not None else None)
        out = [{"id": m.id, "type": m.type, "displayName": m.display_name, "createdDateTime": iso(m.created),
                "phoneType": m.raw.get("phoneType"), "raw": m.raw} for m in methods]
        return {"methods": out, "flagged": None if everything else list(flagged or ()),
                "defaultMethod": prefs.default_method if prefs is not None else None}

    def targets(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        """The flagged methods the snapshot still shows (every method but the password with all_but_password)."""
        flagged = snapshot.get("flagged")
        wanted = None if flagged is None else set(flagged)
        return [m for m in snapshot["methods"]
                if m["type"] != "password" and (wanted is None or m["id"] in wanted)]

    def remaining(self, ctx: ActionContext, snapshot: dict[str, Any]) -> tuple[str, ...]:
        return tuple(f"{m['type']} method {m.get('displayName') or m['id']}" for m in self.targets(ctx, snapshot))

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        targets = self.targets(ctx, snapshot)
        user_id = ctx.user.id
        ordered = _in_graph_order(targets, snapshot)
        if ordered is None:
            return [_delete(user_id, m) for m in targets]
        # Graph refuses to delete the default method while others remain, and a mobile number while an
        # alternate mobile remains: one write that moves the default to a method the owner keeps and
        # deletes in an order Graph accepts.
        keep_mode, steps = ordered
        names = ", ".join(f"{m['type']} method {m.get('displayName') or m['id']}" for m in steps)

        async def send(writer: Any) -> str | None:
            rid = None
            if keep_mode is not None:
                await writer.set_default_method(user_id=user_id, method=keep_mode)
            for m in steps:
                rid = await writer.delete_auth_method(user_id=user_id, method_type=m["type"], method_id=m["id"])
            return rid

        moved = f"Made {keep_mode} the default second factor, then removed " if keep_mode else "Removed "
        return [Write(key="methods", summary=f"{moved}{names}.", send=send)]

    def satisfied(self, ctx: ActionContext, after: dict[str, Any], before: dict[str, Any] | None) -> bool:
        left = {m["id"] for m in after["methods"]}
        removed = {m["id"] for m in self.targets(ctx, before)} if before else set()
        return not (left & removed) and not self.targets(ctx, after)


REGISTRATION_LOOKBACK = timedelta(days=30)
# A default second factor (signInPreferences) and the method it points at.
DEFAULT_MODES = {"push": ("microsoftAuthenticator", None), "oath": ("softwareOath", None),
                 "sms": ("phone", "mobile"), "voiceMobile": ("phone", "mobile"),
                 "voiceAlternateMobile": ("phone", "alternateMobile"), "voiceOffice": ("phone", "office")}


async def _optional(read: Awaitable[Any]) -> Any:
    """A read whose absence only costs precision (the audit log, the default method): None when refused."""
    try:
        return await read
    except TenantError:
        return None


def _points_at(mode: str | None, m: dict[str, Any]) -> bool:
    kind, phone = DEFAULT_MODES.get(mode or "", (None, None))
    return kind == m["type"] and (phone is None or m.get("phoneType") == phone)


def _mode_of(m: dict[str, Any]) -> str | None:
    if m["type"] == "microsoftAuthenticator":
        return "push"
    if m["type"] == "softwareOath":
        return "oath"
    if m["type"] == "phone":
        return {"mobile": "sms", "alternateMobile": "voiceAlternateMobile", "office": "voiceOffice"}.get(
            str(m.get("phoneType")))
    return None


def _delete(user_id: str, m: dict[str, Any]) -> Write:
    kind, method_id = m["type"], m["id"]

    async def send(writer: Any) -> str | None:
        return await writer.delete_auth_method(user_id=user_id, method_type=kind,  # type: ignore[no-any-return]
                                               method_id=method_id)

    return Write(key=f"method:{method_id}", summary=f"Removed {kind} method {m.get('displayName') or method_id}.",
                 send=send)


def _in_graph_order(targets: list[dict[str, Any]], snapshot: dict[str, Any]
                    ) -> tuple[str | None, list[dict[str, Any]]] | None:
    """(default to set first, deletions in order) when the order matters to Graph, else None."""
    default = snapshot.get("defaultMethod")
    ids = {m["id"] for m in targets}
    kept = [m for m in snapshot["methods"] if m["type"] != "password" and m["id"] not in ids]
    default_targeted = any(_points_at(default, m) for m in targets)
    phones = {m.get("phoneType") for m in targets if m["type"] == "phone"}
    if not default_targeted and not {"mobile", "alternateMobile"} <= phones:
        return None
    keep_mode = next((mode for m in kept if (mode := _mode_of(m))), None) if default_targeted and kept else None

    def rank(m: dict[str, Any]) -> int:
        # alternate mobile before mobile; the default last unless it moved to a kept method first
        last = default_targeted and keep_mode is None and _points_at(default, m)
        return (2 if last else 0) + (1 if m["type"] == "phone" and m.get("phoneType") == "mobile" else 0)

    return keep_mode, sorted(targets, key=rank)


class RemoveAdminRoles(Action):
    """Removes the account from the directory roles the admin_role finding flagged (every role it holds
    when asked for without an investigation: that finding's rule)."""

    id = ActionId.REMOVE_ADMIN_ROLES
    nothing_to_do = "Skipped: the account holds none of the flagged directory roles."
    done_sentence = "The account no longer holds the flagged directory roles."

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        roles = await ctx.once("roles", lambda: ctx.tenant.list_admin_roles(user_id=ctx.user.id))
        return {"roles": [dataclasses.asdict(r) for r in roles]}

    def targets(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        flagged = ctx.targets(self.id)
        return [r for r in snapshot["roles"] if flagged is None or r["id"] in flagged]

    def remaining(self, ctx: ActionContext, snapshot: dict[str, Any]) -> tuple[str, ...]:
        return tuple(f"directory role {r['display_name'] or r['id']}" for r in self.targets(ctx, snapshot))

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        writes = []
        for role in self.targets(ctx, snapshot):
            role_id, user_id = role["id"], ctx.user.id

            async def send(writer: Any, role_id: str = role_id, user_id: str = user_id) -> str | None:
                return await writer.remove_admin_role(role_id=role_id, user_id=user_id)  # type: ignore[no-any-return]

            writes.append(Write(key=f"role:{role_id}",
                                summary=f"Removed from directory role {role['display_name'] or role_id}.", send=send))
        return writes


class RevokeOauthGrants(Action):
    """Deletes the delegated consents the oauth_grant findings flagged (asked for without an investigation:
    the grants that rule flags now)."""

    id = ActionId.REVOKE_OAUTH_GRANTS
    nothing_to_do = "Skipped: no flagged app consent is left."
    done_sentence = "The flagged app consents were revoked."

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        grants = await ctx.once("grants", lambda: ctx.tenant.list_oauth_grants(user_id=ctx.user.id))
        return {"grants": [{**dataclasses.asdict(g), "scopes": list(g.scopes)} for g in grants]}

    def suspicious(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        flagged = ctx.targets(self.id)
        if flagged is None:
            grants = tuple(OAuthGrant(**{**g, "scopes": tuple(g["scopes"])}) for g in snapshot["grants"])
            flagged = tuple(t for f in grant_findings(grants, KNOWN_APP_IDS) for t in f.targets)
        return [g for g in snapshot["grants"] if g["id"] in flagged]

    def remaining(self, ctx: ActionContext, snapshot: dict[str, Any]) -> tuple[str, ...]:
        return tuple(f"consent to {g.get('client_display_name') or g['client_id']}"
                     for g in self.suspicious(ctx, snapshot))

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        writes = []
        for g in self.suspicious(ctx, snapshot):
            grant_id = g["id"]

            async def send(writer: Any, grant_id: str = grant_id) -> str | None:
                return await writer.delete_oauth_grant(grant_id=grant_id)  # type: ignore[no-any-return]

            name = g.get("client_display_name") or g["client_id"]
            writes.append(Write(key=f"grant:{grant_id}",
                                summary=f"Revoked consent to {name} ({' '.join(g['scopes'])}).", send=send))
        return writes
