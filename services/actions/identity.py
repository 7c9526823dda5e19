"""Identity actions over Graph: Identity Protection risk, authentication methods, admin roles and
app consents. What counts as suspicious comes from the same pure rules the investigation uses
(services.findings.rules), so after an action runs the investigation no longer reports what it fixed."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

from services.actions import reads
from services.actions.base import Action, ActionContext, Write, at_or_after, iso, parse_iso
from services.findings.methods import method_facts
from services.findings.rules import KNOWN_APP_IDS, grant_findings, signin_finding
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
    title = "Confirm compromised"
    description = "Tell Identity Protection the account is compromised (risk set to high, feeds risk policies)."
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
    title = "Dismiss risk"
    description = "Clear the account's user risk once it is back under the owner's control."
    after = (ActionId.CONFIRM_COMPROMISED, ActionId.RESET_PASSWORD, ActionId.REVOKE_SESSIONS)
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
    """Removes authentication methods registered at or after the cutoff (the incident's first
    suspicious sign-in by default) or from an IP the suspicious sign-ins came from; with the option
    `all_but_password`, every method except the password."""

    id = ActionId.RESET_MFA
    title = "Reset MFA"
    description = "Remove authentication methods registered since the compromise began, so the owner re-registers."
    nothing_to_do = "Skipped: no authentication method was registered after the compromise began."
    done_sentence = "Authentication methods registered since the compromise began were removed."

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        cutoff, ips = ctx.cutoff, set(ctx.options.get("attacker_ips") or ())
        methods_read = ctx.once("methods", lambda: ctx.tenant.list_auth_methods(user_id=ctx.user.id))
        # When and from where a method was registered is in the directory audit log, not on the method; the
        # default second factor decides the order of deletions (Graph refuses the default while others remain).
        since = (cutoff or ctx.since) - REGISTRATION_LOOKBACK
        events_read = ctx.once("registrations", lambda: _optional(ctx.tenant.list_method_registrations(
            user_id=ctx.user.id, since=since)))
        prefs_read = ctx.once("sign_in_preferences", lambda: _optional(ctx.tenant.get_sign_in_preferences(
            user_id=ctx.user.id)))
        if cutoff is not None and ips:
            methods, events, prefs = await asyncio.gather(methods_read, events_read, prefs_read)
        else:
            # The incident did not record a cutoff: find it the way the investigation does (same round trip).
            sign_ins_read = ctx.once("sign_ins", lambda: ctx.tenant.list_sign_ins(
                user_principal_name=ctx.user.user_principal_name))
            methods, events, prefs, sign_ins = await asyncio.gather(methods_read, events_read, prefs_read,
                                                                    sign_ins_read)
            found = signin_finding(tuple(sign_ins))
            if found is not None:
                ips |= set(found.details.get("attackerIps") or ())
                cutoff = cutoff or parse_iso(found.details.get("firstSuspicious"))
        out = []
        for m in methods:
            facts = method_facts(m, events)
            out.append({"id": m.id, "type": m.type, "displayName": m.display_name,
                        "createdDateTime": iso(facts.registered), "registeredFromIp": facts.ip_address,
                        "phoneType": m.raw.get("phoneType"), **{"raw": m.raw}})
        return {"methods": out, "cutoff": iso(cutoff), "attackerIps": sorted(ips),
                "defaultMethod": prefs.default_method if prefs is not None else None}

    def targets(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        everything = bool(ctx.options.get("all_but_password"))
        cutoff: datetime | None = parse_iso(snapshot.get("cutoff"))
        ips = set(snapshot.get("attackerIps") or ())
        out = []
        for m in snapshot["methods"]:
            if m["type"] == "password":
                continue
            created = parse_iso(m.get("createdDateTime"))
            ip = m.get("registeredFromIp")
            if everything or (ip and ip in ips) or (cutoff is not None and created is not None and created >= cutoff):
                out.append(m)
        return out

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
        return not (left & removed) and not self.plan(ctx, after)


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
    id = ActionId.REMOVE_ADMIN_ROLES
    title = "Remove admin roles"
    description = "Remove the account from every directory role it holds."
    nothing_to_do = "Skipped: the account holds no directory role."
    done_sentence = "The account no longer holds any directory role."

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        roles = await ctx.once("roles", lambda: ctx.tenant.list_admin_roles(user_id=ctx.user.id))
        return {"roles": [dataclasses.asdict(r) for r in roles]}

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        writes = []
        for role in snapshot["roles"]:
            role_id, user_id = role["id"], ctx.user.id

            async def send(writer: Any, role_id: str = role_id, user_id: str = user_id) -> str | None:
                return await writer.remove_admin_role(role_id=role_id, user_id=user_id)  # type: ignore[no-any-return]

            writes.append(Write(key=f"role:{role_id}", summary=f"Removed from directory role {role['display_name']}.",
                                send=send))
        return writes


class RevokeOauthGrants(Action):
    id = ActionId.REVOKE_OAUTH_GRANTS
    title = "Revoke app consents"
    description = "Delete delegated consents to unfamiliar apps that can read or send this account's mail."
    nothing_to_do = "Skipped: no suspicious app consent."
    done_sentence = "Suspicious app consents revoked."

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        grants = await ctx.once("grants", lambda: ctx.tenant.list_oauth_grants(user_id=ctx.user.id))
        return {"grants": [{**dataclasses.asdict(g), "scopes": list(g.scopes)} for g in grants]}

    def suspicious(self, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        grants = tuple(OAuthGrant(**{**g, "scopes": tuple(g["scopes"])}) for g in snapshot["grants"])
        ids = {f.details["grantId"] for f in grant_findings(grants, KNOWN_APP_IDS)}
        return [g for g in snapshot["grants"] if g["id"] in ids]

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        writes = []
        for g in self.suspicious(snapshot):
            grant_id = g["id"]

            async def send(writer: Any, grant_id: str = grant_id) -> str | None:
                return await writer.delete_oauth_grant(grant_id=grant_id)  # type: ignore[no-any-return]

            name = g.get("client_display_name") or g["client_id"]
            writes.append(Write(key=f"grant:{grant_id}",
                                summary=f"Revoked consent to {name} ({' '.join(g['scopes'])}).", send=send))
        return writes
