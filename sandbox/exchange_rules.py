"""Exchange cmdlets for inbox rules (the same records Graph's messageRules shows; hidden rules only
with -IncludeHidden) and for mailbox delegates (FullAccess and SendAs)."""

from __future__ import annotations

from typing import Any

from sandbox.errors import ExoError
from sandbox.exchange_cmdlets import Ctx, Result, _audit, _bool, cmdlet


def _addresses(values: list[str] | None) -> list[str] | None:
    return [f'"{a}" [SMTP:{a}]' for a in values] if values else None


def rule_view(user: dict[str, Any], mb: dict[str, Any], rule: dict[str, Any]) -> dict[str, Any]:
    a, c = rule["actions"], rule["conditions"]
    alias = mb["alias"]
    folder = a.get("moveToFolder")
    return {
        "Identity": f"{alias}\\{rule['ruleIdentity']}", "RuleIdentity": rule["ruleIdentity"], "Name": rule["name"],
        "Enabled": rule["enabled"], "Priority": rule["priority"], "MailboxOwnerId": alias,
        "ForwardTo": _addresses(a.get("forwardTo")),
        "ForwardAsAttachmentTo": _addresses(a.get("forwardAsAttachmentTo")),
        "RedirectTo": _addresses(a.get("redirectTo")), "DeleteMessage": bool(a.get("delete")),
        "SoftDeleteMessage": bool(a.get("permanentDelete")), "MarkAsRead": bool(a.get("markAsRead")),
        "MoveToFolder": f"{alias}:\\{folder}" if folder else None,
        "StopProcessingRules": bool(a.get("stopProcessingRules")),
        "SubjectOrBodyContainsWords": c.get("bodyOrSubjectContains") or None,
        "SubjectContainsWords": c.get("subjectContains") or None, "BodyContainsWords": c.get("bodyContains") or None,
        "From": c.get("fromAddresses") or None, "InError": False, "IsValid": True, "SupportedByTask": True,
        "Legacy": False, "Description": _describe(rule),
    }


def _describe(rule: dict[str, Any]) -> str:
    a, c = rule["actions"], rule["conditions"]
    when = f"If the message includes '{' or '.join(c['bodyOrSubjectContains'])}' in the subject or body" \
        if c.get("bodyOrSubjectContains") else "If the message is received"
    then = []
    if a.get("forwardTo"):
        then.append(f"forward the message to {', '.join(a['forwardTo'])}")
    if a.get("redirectTo"):
        then.append(f"redirect the message to {', '.join(a['redirectTo'])}")
    if a.get("moveToFolder"):
        then.append(f"move the message to folder '{a['moveToFolder']}'")
    if a.get("delete"):
        then.append("delete the message")
    return f"{when}\r\nTake the following actions:\r\n" + " and ".join(then or ["do nothing"])


def _find_rule(ctx: Ctx, p: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    identity = str(p["Identity"])
    owner, _, rule_key = identity.rpartition("\\")
    mailbox_key = p.get("Mailbox") or owner
    if not mailbox_key:
        raise ctx.not_found(identity)
    try:
        user, mb = ctx.user(mailbox_key)
    except ExoError:
        raise ctx.not_found(identity) from None
    for rule in mb["inboxRules"]:
        if rule_key in (rule["ruleIdentity"], rule["name"]):
            return user, mb, rule
    raise ctx.not_found(identity)


@cmdlet("Get-InboxRule", ("Mailbox", "Identity", "IncludeHidden", "ResultSize"))
def get_inbox_rule(ctx: Ctx, p: dict[str, Any]) -> Result:
    if p.get("Identity") is not None:
        user, mb, rule = _find_rule(ctx, p)
        return [rule_view(user, mb, rule)], [], None
    if p.get("Mailbox") is None:
        raise ExoError(400, "ParameterBindingException", "Cannot process command because of one or more missing "
                       "mandatory parameters: Mailbox.")
    include_hidden = _bool(p, "IncludeHidden") or False
    user, mb = ctx.user(p["Mailbox"])
    rules = sorted(mb["inboxRules"], key=lambda r: r["priority"])
    return [rule_view(user, mb, r) for r in rules if include_hidden or not r["hidden"]], [], None


def _set_enabled(ctx: Ctx, p: dict[str, Any], enabled: bool, name: str) -> Result:
    user, _, rule = _find_rule(ctx, p)
    rule["enabled"] = enabled
    _audit(ctx, user, name, {**p, "RuleName": rule["name"]})
    return [], [], f"{user['id']}/{rule['id']}"


@cmdlet("Disable-InboxRule", ("Identity", "Mailbox", "AlwaysDeleteOutlookRulesBlob", "Force"), write=True,
        required=("Identity",))
def disable_inbox_rule(ctx: Ctx, p: dict[str, Any]) -> Result:
    return _set_enabled(ctx, p, False, "Disable-InboxRule")


@cmdlet("Enable-InboxRule", ("Identity", "Mailbox", "AlwaysDeleteOutlookRulesBlob", "Force"), write=True,
        required=("Identity",))
def enable_inbox_rule(ctx: Ctx, p: dict[str, Any]) -> Result:
    return _set_enabled(ctx, p, True, "Enable-InboxRule")


@cmdlet("Remove-InboxRule", ("Identity", "Mailbox", "AlwaysDeleteOutlookRulesBlob", "Force"), write=True,
        required=("Identity",))
def remove_inbox_rule(ctx: Ctx, p: dict[str, Any]) -> Result:
    user, mb, rule = _find_rule(ctx, p)
    mb["inboxRules"].remove(rule)
    _audit(ctx, user, "Remove-InboxRule", {**p, "RuleName": rule["name"]})
    return [], [], f"{user['id']}/{rule['id']}"


_SELF = "NT AUTHORITY\\SELF"


def _rights(value: Any, allowed: str, name: str = "AccessRights") -> None:
    values = value if isinstance(value, list) else [value]
    if [str(v).lower() for v in values] != [allowed.lower()]:
        raise ExoError(400, "ParameterBindingArgumentTransformationException", f"Cannot process argument "
                       f"transformation on parameter '{name}'. This sandbox supports only {allowed}.")


@cmdlet("Get-MailboxPermission", ("Identity", "User", "ResultSize"), required=("Identity",))
def get_mailbox_permission(ctx: Ctx, p: dict[str, Any]) -> Result:
    _, mb = ctx.user(p["Identity"])
    rows = [{"Identity": mb["alias"], "User": _SELF, "AccessRights": ["FullAccess", "ReadPermission"],
             "IsInherited": False, "Deny": False, "InheritanceType": "All"}]
    rows += [{"Identity": mb["alias"], "User": e["user"], "AccessRights": ["FullAccess"], "IsInherited": False,
              "Deny": e["deny"], "InheritanceType": e["inheritanceType"]} for e in mb["fullAccess"]]
    if p.get("User"):
        rows = [r for r in rows if r["User"].lower() == str(p["User"]).lower()]
    return rows, [], None


@cmdlet("Remove-MailboxPermission", ("Identity", "User", "AccessRights", "InheritanceType", "Deny",
                                     "BypassMasterAccountSid"), write=True,
        required=("Identity", "User", "AccessRights"))
def remove_mailbox_permission(ctx: Ctx, p: dict[str, Any]) -> Result:
    user, mb = ctx.user(p["Identity"])
    _rights(p["AccessRights"], "FullAccess")
    who = str(p["User"]).lower()
    keep = [e for e in mb["fullAccess"] if e["user"].lower() != who]
    if len(keep) == len(mb["fullAccess"]):
        return [], [f"Can't remove the access control entry on the object \"{mb['alias']}\" for account "
                    f"\"{p['User']}\" because the ACE doesn't exist on the object."], None
    mb["fullAccess"] = keep
    _audit(ctx, user, "Remove-MailboxPermission", p)
    return [], [], user["id"]


@cmdlet("Get-RecipientPermission", ("Identity", "Trustee", "AccessRights", "ResultSize"), required=("Identity",))
def get_recipient_permission(ctx: Ctx, p: dict[str, Any]) -> Result:
    _, mb = ctx.user(p["Identity"])
    rows = [{"Identity": mb["alias"], "Trustee": _SELF, "AccessControlType": "Allow", "AccessRights": ["SendAs"],
             "IsInherited": False, "InheritanceType": "None"}]
    rows += [{"Identity": mb["alias"], "Trustee": e["trustee"], "AccessControlType": "Allow",
              "AccessRights": ["SendAs"], "IsInherited": False, "InheritanceType": "None"} for e in mb["sendAs"]]
    if p.get("Trustee"):
        rows = [r for r in rows if r["Trustee"].lower() == str(p["Trustee"]).lower()]
    return rows, [], None


@cmdlet("Remove-RecipientPermission", ("Identity", "Trustee", "AccessRights", "Deny"), write=True,
        required=("Identity", "Trustee", "AccessRights"))
def remove_recipient_permission(ctx: Ctx, p: dict[str, Any]) -> Result:
    user, mb = ctx.user(p["Identity"])
    _rights(p["AccessRights"], "SendAs")
    who = str(p["Trustee"]).lower()
    keep = [e for e in mb["sendAs"] if e["trustee"].lower() != who]
    if len(keep) == len(mb["sendAs"]):
        return [], [f"The appropriate access control entry is already absent from the object \"{mb['alias']}\" "
                    f"for account \"{p['Trustee']}\"."], None
    mb["sendAs"] = keep
    _audit(ctx, user, "Remove-RecipientPermission", p)
    return [], [], user["id"]
