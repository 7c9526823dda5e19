"""Bot Framework activity JSON as Teams sends it (shapes taken from real Teams payloads: ids, the
tenant in both conversation and channelData, mention entities, Universal Action invokes)."""

from __future__ import annotations

import itertools
from typing import Any

BOT_ID = "28:5d6b1a3e-0000-4000-8000-00000000b07a"
BOT_NAME = "Contain"
_ids = itertools.count(1_700_000_000_000)

# Responders as the sandbox fixture names them (AAD object ids are placeholders until then).
DAVE = {"id": "29:1dave", "name": "Dave Responder", "aadObjectId": "00000000-0000-4000-8000-00000000da7e"}
ERIN = {"id": "29:1erin", "name": "Erin Responder", "aadObjectId": "00000000-0000-4000-8000-0000000000e1"}


def _base(kind: str, *, service_url: str, tenant: str | None, conversation_id: str, conversation_type: str,
          user: dict[str, Any]) -> dict[str, Any]:
    conversation: dict[str, Any] = {"id": conversation_id, "conversationType": conversation_type,
                                    "isGroup": conversation_type != "personal"}
    activity: dict[str, Any] = {
        "type": kind,
        "id": str(next(_ids)),
        "timestamp": "2025-01-15T09:30:00.000Z",
        "localTimestamp": "2025-01-15T10:30:00.000+01:00",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": dict(user),
        "conversation": conversation,
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "locale": "en-US",
        "channelData": {},
    }
    if tenant is not None:
        conversation["tenantId"] = tenant
        activity["channelData"]["tenant"] = {"id": tenant}
    if conversation_type == "channel":
        activity["channelData"].update({"teamsChannelId": "19:security@thread.tacv2",
                                        "teamsTeamId": "19:team@thread.tacv2",
                                        "channel": {"id": "19:security@thread.tacv2", "name": "Security"},
                                        "team": {"id": "19:team@thread.tacv2"}})
    return activity


def message(text: str, *, service_url: str, tenant: str | None = None, conversation_id: str = "a:1personal",
            conversation_type: str = "personal", user: dict[str, Any] = DAVE, mention_bot: bool = False
            ) -> dict[str, Any]:
    activity = _base("message", service_url=service_url, tenant=tenant, conversation_id=conversation_id,
                     conversation_type=conversation_type, user=user)
    entities: list[dict[str, Any]] = [{"type": "clientInfo", "locale": "en-US", "platform": "Web"}]
    if mention_bot:
        text = f"<at>{BOT_NAME}</at> {text}"
        entities.append({"type": "mention", "text": f"<at>{BOT_NAME}</at>",
                         "mentioned": {"id": BOT_ID, "name": BOT_NAME}})
    activity.update({"text": text, "textFormat": "plain", "entities": entities})
    return activity


def invoke(verb: str, data: dict[str, Any] | None = None, *, service_url: str, tenant: str | None = None,
           conversation_id: str = "19:security@thread.tacv2;messageid=1700000000001",
           conversation_type: str = "channel", user: dict[str, Any] = DAVE, card_id: str = "1700000000001",
           name: str = "adaptiveCard/action") -> dict[str, Any]:
    activity = _base("invoke", service_url=service_url, tenant=tenant, conversation_id=conversation_id,
                     conversation_type=conversation_type, user=user)
    activity.update({
        "name": name,
        "replyToId": card_id,
        "value": {"action": {"type": "Action.Execute", "verb": verb, "data": data or {}}, "trigger": "manual"},
    })
    return activity


def conversation_update(*, service_url: str, tenant: str | None = None, bot_added: bool = True,
                        conversation_id: str = "19:security@thread.tacv2") -> dict[str, Any]:
    activity = _base("conversationUpdate", service_url=service_url, tenant=tenant, conversation_id=conversation_id,
                     conversation_type="channel", user=DAVE)
    activity["membersAdded"] = [{"id": BOT_ID}] if bot_added else [{"id": "29:1someone"}]
    activity["channelData"]["eventType"] = "teamMemberAdded"
    return activity
