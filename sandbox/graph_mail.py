"""Graph inbox message rules: a view of the same rule records Exchange's Get-InboxRule shows.
Hidden rules exist only on the Exchange side."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from sandbox.errors import GraphError, bad_request
from sandbox.routing import Call, Route, graph

ROUTES: list[Route] = []

RULES_READ = ("MailboxSettings.Read", "MailboxSettings.ReadWrite")
_RECIPIENT_KEYS = ("forwardTo", "forwardAsAttachmentTo", "redirectTo")
_CONDITION_LISTS = ("bodyOrSubjectContains", "subjectContains", "bodyContains", "senderContains", "headerContains")
_ACTION_FLAGS = ("delete", "permanentDelete", "markAsRead", "stopProcessingRules")


def folder_id(name: str) -> str:
    return "AAMkAD" + base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def folder_name(fid: str) -> str | None:
    if not fid.startswith("AAMkAD"):
        return None
    raw = fid[6:]
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except ValueError:
        return None


def _recipients(addresses: list[str]) -> list[dict[str, Any]]:
    return [{"emailAddress": {"name": a, "address": a}} for a in addresses]


def render_rule(rule: dict[str, Any]) -> dict[str, Any]:
    conditions = {k: v for k, v in rule["conditions"].items() if k in _CONDITION_LISTS and v}
    if rule["conditions"].get("fromAddresses"):
        conditions["fromAddresses"] = _recipients(rule["conditions"]["fromAddresses"])
    actions: dict[str, Any] = {}
    for key in _RECIPIENT_KEYS:
        if rule["actions"].get(key):
            actions[key] = _recipients(rule["actions"][key])
    for key in _ACTION_FLAGS:
        if rule["actions"].get(key):
            actions[key] = True
    if rule["actions"].get("moveToFolder"):
        actions["moveToFolder"] = folder_id(rule["actions"]["moveToFolder"])
    return {"id": rule["id"], "displayName": rule["name"], "sequence": rule["priority"], "isEnabled": rule["enabled"],
            "hasError": False, "isReadOnly": False, "conditions": conditions, "actions": actions}


def _mailbox(call: Call) -> tuple[dict[str, Any], dict[str, Any]]:
    user = call.state.user(call.params["id"])
    mailbox = call.state.mailbox(user["id"])
    if mailbox is None:
        raise GraphError(404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is "
                         "hosted on-premise.")
    return user, mailbox


def _rule(call: Call) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    user, mailbox = _mailbox(call)
    rule = call.state.rule_by_graph_id(user["id"], call.params["ruleId"])
    if rule is None:
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return user, mailbox, rule


@graph(ROUTES, "GET", "/users/{id}/mailFolders/inbox/messageRules", perms=RULES_READ)
async def list_rules(call: Call) -> web.Response:
    user, mailbox = _mailbox(call)
    rules = [render_rule(r) for r in sorted(mailbox["inboxRules"], key=lambda r: r["priority"]) if not r["hidden"]]
    return call.ok({"value": rules}, context=f"users('{user['id']}')/mailFolders('inbox')/messageRules")


@graph(ROUTES, "GET", "/users/{id}/mailFolders/inbox/messageRules/{ruleId}", perms=RULES_READ)
async def get_rule(call: Call) -> web.Response:
    user, _, rule = _rule(call)
    return call.ok(render_rule(rule), context=f"users('{user['id']}')/mailFolders('inbox')/messageRules/$entity")


def _addresses(value: Any, key: str) -> list[str]:
    if not isinstance(value, list):
        raise bad_request(f"Invalid value for '{key}'.", "ErrorInvalidRequest")
    out = []
    for r in value:
        address = r.get("emailAddress", {}).get("address") if isinstance(r, dict) else None
        if not isinstance(address, str) or "@" not in address:
            raise bad_request(f"Invalid recipient in '{key}'.", "ErrorInvalidRecipients")
        out.append(address)
    return out


@graph(ROUTES, "PATCH", "/users/{id}/mailFolders/inbox/messageRules/{ruleId}", perms=("MailboxSettings.ReadWrite",))
async def patch_rule(call: Call) -> web.Response:
    user, _, rule = _rule(call)
    body = call.body
    if not isinstance(body, dict) or not body:
        raise bad_request("Empty Payload. JSON content expected.", "ErrorInvalidRequest")
    changes: dict[str, Any] = {}
    for key, value in body.items():
        if key == "isEnabled" and isinstance(value, bool):
            changes["enabled"] = value
        elif key == "displayName" and isinstance(value, str) and value:
            changes["name"] = value
        elif key == "sequence" and isinstance(value, int) and value > 0:
            changes["priority"] = value
        elif key == "actions" and isinstance(value, dict):
            actions: dict[str, Any] = {}
            for k, v in value.items():
                if k in _RECIPIENT_KEYS:
                    actions[k] = _addresses(v, k)
                elif k in _ACTION_FLAGS and isinstance(v, bool):
                    actions[k] = v
                elif k == "moveToFolder" and isinstance(v, str) and folder_name(v):
                    actions[k] = folder_name(v)
                else:
                    raise bad_request(f"Invalid value for action '{k}'.", "ErrorInvalidRequest")
            changes["actions"] = actions
        elif key == "conditions" and isinstance(value, dict):
            conditions: dict[str, Any] = {}
            for k, v in value.items():
                if k in _CONDITION_LISTS and isinstance(v, list) and all(isinstance(s, str) for s in v):
                    conditions[k] = v
                elif k == "fromAddresses":
                    conditions[k] = _addresses(v, k)
                else:
                    raise bad_request(f"Invalid value for condition '{k}'.", "ErrorInvalidRequest")
            changes["conditions"] = conditions
        else:
            raise bad_request(f"The property '{key}' cannot be set to that value on a message rule.",
                              "ErrorInvalidRequest")
    rule.update(changes)
    call.state.add_audit(user, "UpdateInboxRules", "exchangeItem", call.client_ip,
                         {"RuleName": rule["name"], "Enabled": rule["enabled"], "RuleId": rule["id"]})
    call.target = f"{user['id']}/{rule['id']}"
    return call.ok(render_rule(rule), context=f"users('{user['id']}')/mailFolders('inbox')/messageRules/$entity")


@graph(ROUTES, "DELETE", "/users/{id}/mailFolders/inbox/messageRules/{ruleId}", perms=("MailboxSettings.ReadWrite",))
async def delete_rule(call: Call) -> web.Response:
    user, mailbox, rule = _rule(call)
    mailbox["inboxRules"].remove(rule)
    call.state.add_audit(user, "UpdateInboxRules", "exchangeItem", call.client_ip,
                         {"RuleName": rule["name"], "RuleOperation": "RemoveMailboxRule", "RuleId": rule["id"]})
    call.target = f"{user['id']}/{rule['id']}"
    return call.no_content()

