"""Mail-flow actions: suspicious inbox rules (Graph, and Exchange for hidden ones), mailbox
forwarding, and delegates. Snapshots keep every rule and mailbox setting whole, so undo restores
exactly what was there."""

from __future__ import annotations

import asyncio
from typing import Any

from services.actions import reads
from services.actions.base import Action, ActionContext, Write
from services.findings.mail import delegate_findings, delegate_key, rule_findings
from services.tenant.mail import exchange_rule, graph_rule
from services.tenant.models import InboxRule, Mailbox, MailboxPermission, RecipientPermission
from services.vocabulary import ActionId


def _rules(snapshot: dict[str, Any]) -> tuple[tuple[InboxRule, ...], tuple[InboxRule, ...]]:
    return (tuple(graph_rule(r) for r in snapshot["graphRules"]),
            tuple(exchange_rule(r) for r in snapshot["exchangeRules"]))


def _flagged(ctx: ActionContext, action: ActionId) -> set[str] | None:
    """What the findings flagged for `action`, compared without case (Exchange identities ignore it)."""
    flagged = ctx.targets(action)
    return None if flagged is None else {t.lower() for t in flagged}


class DisableInboxRules(Action):
    id = ActionId.DISABLE_INBOX_RULES
    nothing_to_do = "Skipped: no suspicious inbox rule is enabled."
    done_sentence = "Suspicious inbox rules disabled (kept for the record)."

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        graph, exchange, domains = await asyncio.gather(reads.graph_rules(ctx), reads.exchange_rules(ctx),
                                                        reads.domains(ctx))
        return {"graphRules": [r.raw for r in graph], "exchangeRules": [r.raw for r in exchange],
                "domains": list(domains)}

    def targets(self, ctx: ActionContext, snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The rules to turn off, by key (services.findings.mail.rule_key): those the findings flagged that
        still exist, or, asked for directly, every suspicious enabled rule."""
        graph, exchange = _rules(snapshot)
        flagged = _flagged(ctx, self.id)
        if flagged is not None:
            every: dict[str, dict[str, Any]] = {f"graph:{r.id}": {"via": "graph", "id": r.id, "name": r.name}
                                                for r in graph}
            every.update({f"exchange:{r.id}": {"via": "exchange", "id": r.id, "name": r.name,
                                               "hidden": not any(g.name.lower() == r.name.lower() for g in graph)}
                          for r in exchange})
            return {k: t for k, t in every.items() if k.lower() in flagged}
        out: dict[str, dict[str, Any]] = {}
        for finding in rule_findings(graph, exchange, domains=tuple(snapshot["domains"])):
            d = finding.details
            for key in finding.targets:
                via, _, rid = key.partition(":")
                out[key] = {"via": via, "id": rid, "name": d["name"], "hidden": bool(d.get("hidden"))}
        return out

    def _write(self, ctx: ActionContext, key: str, target: dict[str, Any], enabled: bool) -> Write:
        user_id, mailbox, rid = ctx.user.id, ctx.mailbox, target["id"]
        verb = "Re-enabled" if enabled else "Disabled"
        if target["via"] == "graph":
            async def send(writer: Any) -> str | None:
                return await writer.set_inbox_rule_enabled(user_id=user_id, rule_id=rid,  # type: ignore[no-any-return]
                                                           enabled=enabled)

            return Write(key=key, summary=f'{verb} inbox rule "{target["name"]}".', send=send)

        async def send_exo(writer: Any) -> str | None:
            if enabled:
                return await writer.enable_inbox_rule_exchange(mailbox=mailbox, identity=rid)  # type: ignore[no-any-return]
            return await writer.disable_inbox_rule_exchange(mailbox=mailbox, identity=rid)  # type: ignore[no-any-return]

        hidden = " hidden" if target.get("hidden") else ""
        return Write(key=key, summary=f'{verb}{hidden} inbox rule "{target["name"]}" through Exchange.', send=send_exo)

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        return [self._write(ctx, key, t, False) for key, t in self.targets(ctx, snapshot).items()
                if self._enabled(snapshot, t) is not False]

    def _enabled(self, snapshot: dict[str, Any], target: dict[str, Any]) -> bool | None:
        graph, exchange = _rules(snapshot)
        pool = graph if target["via"] == "graph" else exchange
        rule = next((r for r in pool if r.id == target["id"]), None)
        return None if rule is None else rule.enabled

    def satisfied(self, ctx: ActionContext, after: dict[str, Any], before: dict[str, Any] | None) -> bool:
        # Each rule disabled in the fresh read (a rule deleted meanwhile is no threat either).
        wanted = self.targets(ctx, before) if before else {}
        return all(self._enabled(after, t) is not True for t in wanted.values()) and not self.plan(ctx, after)

    def remaining(self, ctx: ActionContext, snapshot: dict[str, Any]) -> tuple[str, ...]:
        if ctx.targets(self.id) is None:
            return ()
        return tuple(f'inbox rule "{t["name"]}"' for t in self.targets(ctx, snapshot).values()
                     if self._enabled(snapshot, t) is True)

    def undo_plan(self, ctx: ActionContext, before: dict[str, Any], now: dict[str, Any]) -> list[Write]:
        return [self._write(ctx, key, t, True) for key, t in self.targets(ctx, before).items()
                if self._enabled(before, t) is True and self._enabled(now, t) is False]


def _mailbox_snapshot(mb: Mailbox | None) -> dict[str, Any]:
    if mb is None:
        return {"mailbox": None}
    return {"mailbox": {"identity": mb.identity, "forwardingSmtpAddress": mb.forwarding_smtp_address,
                        "forwardingAddress": mb.forwarding_address,
                        "deliverToMailboxAndForward": mb.deliver_to_mailbox_and_forward,
                        "auditEnabled": mb.audit_enabled, "grantSendOnBehalfTo": list(mb.grant_send_on_behalf_to),
                        "raw": mb.raw}}


def _bare(address: str | None) -> str | None:
    if not address:
        return None
    return address[5:] if address.lower().startswith("smtp:") else address


class RemoveForwarding(Action):
    id = ActionId.REMOVE_FORWARDING
    nothing_to_do = "Skipped: the mailbox does not forward mail."
    done_sentence = "Mailbox forwarding removed."

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        return _mailbox_snapshot(await reads.mailbox(ctx))

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        mb = snapshot["mailbox"]
        if mb is None:
            return []
        smtp, recipient = _bare(mb["forwardingSmtpAddress"]), mb["forwardingAddress"] or None
        flagged = _flagged(ctx, self.id)
        if flagged is None:  # asked for directly: all forwarding goes
            if not (smtp or recipient or mb["deliverToMailboxAndForward"]):
                return []
            clear = {"ForwardingSmtpAddress": None, "ForwardingAddress": None}
        else:  # exactly what the findings flagged, while it is still set
            clear = {}
            if smtp and f"smtp:{smtp}".lower() in flagged:
                clear["ForwardingSmtpAddress"] = None
            if recipient and f"recipient:{recipient}".lower() in flagged:
                clear["ForwardingAddress"] = None
            if not clear:
                return []
        left = (smtp and "ForwardingSmtpAddress" not in clear) or (recipient and "ForwardingAddress" not in clear)
        settings: dict[str, Any] = {**clear} if left else {**clear, "DeliverToMailboxAndForward": False}
        mailbox = ctx.mailbox

        async def send(writer: Any) -> str | None:
            return await writer.set_mailbox(mailbox=mailbox, **settings)  # type: ignore[no-any-return]

        gone = [v for k, v in (("ForwardingSmtpAddress", smtp), ("ForwardingAddress", recipient)) if k in clear and v]
        return [Write(key="forwarding", summary=f"Removed mailbox forwarding to {', '.join(gone) or 'nowhere'}.",
                      send=send)]

    def remaining(self, ctx: ActionContext, snapshot: dict[str, Any]) -> tuple[str, ...]:
        flagged, mb = _flagged(ctx, self.id), snapshot["mailbox"]
        if flagged is None or mb is None:
            return ()
        current = [(f"smtp:{_bare(mb['forwardingSmtpAddress'])}", _bare(mb["forwardingSmtpAddress"])),
                   (f"recipient:{mb['forwardingAddress']}", mb["forwardingAddress"])]
        return tuple(f"forwarding to {shown}" for key, shown in current if shown and key.lower() in flagged)

    def undo_plan(self, ctx: ActionContext, before: dict[str, Any], now: dict[str, Any]) -> list[Write]:
        was, mb = before["mailbox"], now["mailbox"]
        if was is None or mb is None:
            return []
        wanted = {"ForwardingSmtpAddress": _bare(was["forwardingSmtpAddress"]),
                  "ForwardingAddress": was["forwardingAddress"] or None,
                  "DeliverToMailboxAndForward": bool(was["deliverToMailboxAndForward"])}
        current = {"ForwardingSmtpAddress": _bare(mb["forwardingSmtpAddress"]),
                   "ForwardingAddress": mb["forwardingAddress"] or None,
                   "DeliverToMailboxAndForward": bool(mb["deliverToMailboxAndForward"])}
        if wanted == current:
            return []
        mailbox = ctx.mailbox

        async def send(writer: Any) -> str | None:
            return await writer.set_mailbox(mailbox=mailbox, **wanted)  # type: ignore[no-any-return]

        return [Write(key="forwarding", summary="Restored mailbox forwarding from the snapshot.", send=send)]


class RemoveDelegates(Action):
    id = ActionId.REMOVE_DELEGATES
    nothing_to_do = "Skipped: nobody else has access to this mailbox."
    done_sentence = "Delegate permissions removed."

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        perms, recips, mb, domains = await asyncio.gather(
            ctx.once("mailbox_permissions", lambda: ctx.tenant.list_mailbox_permissions(mailbox=ctx.mailbox)),
            ctx.once("recipient_permissions", lambda: ctx.tenant.list_recipient_permissions(mailbox=ctx.mailbox)),
            reads.mailbox(ctx), reads.domains(ctx))
        return {"mailboxPermissions": [{"identity": p.identity, "user": p.user, "accessRights": list(p.access_rights),
                                        "isInherited": p.is_inherited, "deny": p.deny} for p in perms],
                "recipientPermissions": [{"identity": r.identity, "trustee": r.trustee,
                                          "accessRights": list(r.access_rights), "isInherited": r.is_inherited}
                                         for r in recips],
                **_mailbox_snapshot(mb), "domains": list(domains)}

    def delegates(self, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        perms = tuple(MailboxPermission(identity=p["identity"], user=p["user"], access_rights=tuple(p["accessRights"]),
                                        is_inherited=p["isInherited"], deny=p["deny"])
                      for p in snapshot["mailboxPermissions"])
        recips = tuple(RecipientPermission(identity=r["identity"], trustee=r["trustee"],
                                           access_rights=tuple(r["accessRights"]), is_inherited=r["isInherited"])
                       for r in snapshot["recipientPermissions"])
        mb = snapshot["mailbox"]
        mailbox = Mailbox(identity=mb["identity"], user_principal_name=None, forwarding_smtp_address=None,
                          forwarding_address=None, deliver_to_mailbox_and_forward=False, audit_enabled=None,
                          grant_send_on_behalf_to=tuple(mb["grantSendOnBehalfTo"])) if mb else None
        found = delegate_findings(perms, recips, mailbox, domains=tuple(snapshot["domains"]))
        return list(found[0].details["delegates"]) if found else []

    def remaining(self, ctx: ActionContext, snapshot: dict[str, Any]) -> tuple[str, ...]:
        flagged = _flagged(ctx, self.id)
        if flagged is None:
            return ()
        return tuple(f"{', '.join(d['accessRights'])} of {d['principal']}" for d in self.delegates(snapshot)
                     if delegate_key(str(d["kind"]), str(d["principal"])).lower() in flagged)

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        mailbox = ctx.mailbox
        writes: list[Write] = []
        on_behalf: list[str] = []
        flagged = _flagged(ctx, self.id)
        for d in self.delegates(snapshot):
            if flagged is not None and delegate_key(str(d["kind"]), str(d["principal"])).lower() not in flagged:
                continue  # not flagged by this incident's findings: left as it is
            who, rights = str(d["principal"]), list(d["accessRights"])
            if d["kind"] == "mailbox":
                async def send(writer: Any, who: str = who, rights: list[str] = rights) -> str | None:
                    return await writer.remove_mailbox_permission(mailbox=mailbox, user=who,  # type: ignore[no-any-return]
                                                                  access_rights=rights)

                writes.append(Write(key=f"mailbox:{who.lower()}", send=send,
                                    summary=f"Removed {', '.join(rights)} of {who} on the mailbox."))
            elif d["kind"] == "recipient":
                async def send_as(writer: Any, who: str = who, rights: list[str] = rights) -> str | None:
                    return await writer.remove_recipient_permission(mailbox=mailbox, trustee=who,  # type: ignore[no-any-return]
                                                                    access_rights=rights)

                writes.append(Write(key=f"recipient:{who.lower()}", send=send_as,
                                    summary=f"Removed {', '.join(rights)} of {who}."))
            else:
                on_behalf.append(who)
        if on_behalf:
            async def send_behalf(writer: Any) -> str | None:
                return await writer.remove_send_on_behalf(mailbox=mailbox, principals=on_behalf)  # type: ignore[no-any-return]

            writes.append(Write(key="sendOnBehalf", send=send_behalf,
                                summary=f"Removed Send on Behalf of {', '.join(on_behalf)}."))
        return writes
