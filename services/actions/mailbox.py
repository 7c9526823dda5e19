"""Mailbox settings actions over Exchange Online: lift the outbound-spam restriction, turn mailbox
auditing on, and switch off legacy protocols."""

from __future__ import annotations

import asyncio
from typing import Any

from services.actions.base import Action, ActionContext, Refused, Write
from services.findings.mail import AUDIT_BYPASS, ORG_AUDIT_DISABLED
from services.vocabulary import ActionId

# How the organisation's switch is named in a result sentence: Contain does not change organisation-wide settings.
ORG_AUDIT_NAME = ("mailbox auditing turned off for the whole organisation (AuditDisabled), which only an "
                  "organisation-wide change by an Exchange administrator can undo "
                  "(Set-OrganizationConfig -AuditDisabled $false)")
# Protocols that authenticate with a password alone (basic auth) or that attackers use to sync mail
# quietly; the option `legacy_protocols` may name others Set-CASMailbox knows (ews, activesync, mapi).
DEFAULT_LEGACY = ("imap", "pop")
_CAS_FIELDS = {"imap": "imap_enabled", "pop": "pop_enabled", "ews": "ews_enabled", "activesync": "activesync_enabled",
               "mapi": "mapi_enabled", "owa": "owa_enabled"}


class UnblockSender(Action):
    id = ActionId.UNBLOCK_SENDER
    nothing_to_do = "Skipped: the account is not on the restricted senders list."
    done_sentence = "The account may send mail again."

    def addresses(self, ctx: ActionContext) -> set[str]:
        return {a.lower() for a in (ctx.user.user_principal_name, ctx.user.mail or "") if a}

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        blocked = await ctx.once("blocked_senders", lambda: ctx.tenant.list_blocked_senders())
        mine = self.addresses(ctx)
        flagged = ctx.targets(self.id)
        if flagged is not None:  # exactly the addresses the finding named
            mine = {a.lower() for a in flagged}
        return {"blockedSenders": [{"senderAddress": b.sender_address, "reason": b.reason}
                                   for b in blocked if b.sender_address.lower() in mine]}

    def check(self, ctx: ActionContext, snapshot: dict[str, Any]) -> None:
        missing = self.spec.missing(ctx.succeeded)
        if missing and not (ctx.override_unblock and self.spec.overridable):
            raise Refused(self.spec.refusal(missing))

    def remaining(self, ctx: ActionContext, snapshot: dict[str, Any]) -> tuple[str, ...]:
        if ctx.targets(self.id) is None:
            return ()
        return tuple(f"{b['senderAddress']} on the restricted senders list" for b in snapshot["blockedSenders"])

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        writes = []
        for entry in snapshot["blockedSenders"]:
            address = entry["senderAddress"]

            async def send(writer: Any, address: str = address) -> str | None:
                return await writer.remove_blocked_sender(sender_address=address)  # type: ignore[no-any-return]

            writes.append(Write(key=f"blocked:{address.lower()}", send=send,
                                summary=f"Removed {address} from the restricted senders list."))
        return writes


class EnableMailboxAudit(Action):
    id = ActionId.ENABLE_MAILBOX_AUDIT
    nothing_to_do = "Skipped: mailbox auditing is already on."
    done_sentence = "Mailbox audit logging is on."

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        # Auditing is on by default; a mailbox is unaudited through its bypass or the organisation's switch.
        # AuditEnabled is not read: under default auditing it stays False and means nothing.
        bypass, org = await asyncio.gather(
            ctx.once("bypass", lambda: ctx.tenant.get_audit_bypass(mailbox=ctx.mailbox)),
            ctx.once("org_config", lambda: ctx.tenant.get_organization_config()))
        return {"bypass": bypass.bypass_enabled if bypass else None,
                "orgAuditDisabled": org.audit_disabled if org else None}

    def _wanted(self, ctx: ActionContext, snapshot: dict[str, Any]) -> set[str]:
        """What to turn back on: the findings' targets, or, asked for directly, whatever is off now."""
        flagged = ctx.targets(self.id)
        if flagged is not None:
            return set(flagged)
        return {t for t, off in ((AUDIT_BYPASS, snapshot["bypass"]), (ORG_AUDIT_DISABLED, snapshot["orgAuditDisabled"]))
                if off}

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        if AUDIT_BYPASS not in self._wanted(ctx, snapshot) or snapshot["bypass"] is not True:
            return []
        mailbox = ctx.mailbox

        async def send(writer: Any) -> str | None:
            return await writer.set_audit_bypass(mailbox=mailbox, enabled=False)  # type: ignore[no-any-return]

        return [Write(key="auditBypass", send=send,
                      summary="Ended the account's mailbox audit bypass (AuditBypassEnabled=false).")]

    def remaining(self, ctx: ActionContext, snapshot: dict[str, Any]) -> tuple[str, ...]:
        wanted = self._wanted(ctx, snapshot)
        out = []
        if AUDIT_BYPASS in wanted and snapshot["bypass"] is True:
            out.append("the account's mailbox audit bypass")
        if ORG_AUDIT_DISABLED in wanted and snapshot["orgAuditDisabled"] is True:
            out.append(ORG_AUDIT_NAME)
        return tuple(out)

    def satisfied(self, ctx: ActionContext, after: dict[str, Any], before: dict[str, Any] | None) -> bool:
        return after["bypass"] is not True


class DisableLegacyProtocols(Action):
    id = ActionId.DISABLE_LEGACY_PROTOCOLS
    nothing_to_do = "Skipped: legacy protocols are already off for this mailbox."
    done_sentence = "Legacy protocols are off for this mailbox."

    def protocols(self, ctx: ActionContext) -> tuple[str, ...]:
        wanted = tuple(ctx.options.get("legacy_protocols") or DEFAULT_LEGACY)
        return tuple(p for p in wanted if p in _CAS_FIELDS)

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        cas = await ctx.once("cas", lambda: ctx.tenant.get_cas_mailbox(mailbox=ctx.mailbox))
        if cas is None:
            return {"cas": None}
        return {"cas": {name: getattr(cas, field) for name, field in _CAS_FIELDS.items()}, "raw": cas.raw}

    def _set(self, ctx: ActionContext, switches: dict[str, bool], summary: str) -> Write:
        mailbox = ctx.mailbox

        async def send(writer: Any) -> str | None:
            return await writer.set_cas_mailbox(mailbox=mailbox, **switches)  # type: ignore[no-any-return]

        return Write(key="cas", summary=summary, send=send)

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        cas = snapshot["cas"]
        on = [p for p in self.protocols(ctx) if cas is not None and cas.get(p) is not False]
        if not on:
            return []
        return [self._set(ctx, dict.fromkeys(on, False), f"Turned off {', '.join(p.upper() for p in on)}.")]

    def undo_plan(self, ctx: ActionContext, before: dict[str, Any], now: dict[str, Any]) -> list[Write]:
        was, cas = before["cas"], now["cas"]
        if was is None or cas is None:
            return []
        back = {p: bool(was[p]) for p in self.protocols(ctx) if was.get(p) is not None and cas.get(p) != was[p]}
        if not back:
            return []
        return [self._set(ctx, back, f"Restored {', '.join(p.upper() for p in back)} from the snapshot.")]
