"""A client for the Microsoft 365 Agents Playground's own API, used the way its web page uses it.

The page POSTs what the user types to `/_conversation/v1/conversations/{chat}/messages`, POSTs a card
click as an `adaptiveCard/action` invoke to `/_conversation/v1/invoke` (the action's data merged with
the card's input values, as the Adaptive Cards renderer does), and listens on the websocket
`/_ws_conversation/v1/conversations/stream` for the bot's messages (`createMessage`) and in-place
updates (`updateMessage`). The Playground itself relays all of it to the bot as Bot Framework activities
and takes the bot's replies on its Bot Connector stand-in.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.support.cardtree import elements

ADAPTIVE = "application/vnd.microsoft.card.adaptive"




def card_texts(card: dict[str, Any]) -> list[str]:
    return [str(e.get("text", "")) for e in elements(card) if e.get("type") in ("TextBlock", "TextRun")]


def card_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in elements(card) if e.get("type") == "Action.Execute"]


def card_facts(card: dict[str, Any]) -> list[tuple[str, str]]:
    """Every FactSet row of a card as (title, value)."""
    return [(str(f.get("title", "")), str(f.get("value", ""))) for e in elements(card) if e.get("type") == "FactSet"
            for f in e.get("facts") or []]


def card_inputs(card: dict[str, Any]) -> dict[str, Any]:
    """Input ids and their current (default) values, as the user leaves them."""
    return {e["id"]: e.get("value") for e in elements(card)
            if str(e.get("type", "")).startswith("Input.") and "id" in e and "value" in e}


@dataclass
class Message:
    id: str
    conversation_id: str
    text: str
    card: dict[str, Any] | None
    versions: int = 1  # 1 + the number of in-place updates seen

    @property
    def texts(self) -> list[str]:
        return card_texts(self.card) if self.card else []

    @property
    def facts(self) -> list[tuple[str, str]]:
        return card_facts(self.card) if self.card else []

    @property
    def joined(self) -> str:
        return "\n".join([self.text, *self.texts])

    def action(self, title: str) -> dict[str, Any]:
        for action in card_actions(self.card or {}):
            if action.get("title") == title:
                return action
        raise AssertionError(f"no button {title!r} on the card; buttons: "
                             f"{[a.get('title') for a in card_actions(self.card or {})]}")


@dataclass
class PlaygroundClient:
    session: aiohttp.ClientSession
    base_url: str
    user_id: str = ""
    user_name: str = ""
    chat_id: str = ""
    bot_id: str = ""
    bot_name: str = ""
    channels: dict[str, str] = field(default_factory=dict)  # team channel name -> its conversation id
    messages: dict[str, Message] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    async def connect(self) -> PlaygroundClient:
        async with self.session.get(f"{self.base_url}/_internal/v1/config") as response:
            config = (await response.json())["config"]
        self.user_id, self.user_name = config["currentUser"]["id"], config["currentUser"]["name"]
        self.chat_id = config["personalChat"]["id"]
        self.bot_id, self.bot_name = config["bot"]["id"], config["bot"]["name"]
        self.channels = {c["name"]: c["id"] for team in config.get("teams") or [] for c in team.get("channels") or []}
        self._changed = asyncio.Condition()
        self._ws = await self.session.ws_connect(f"{self.base_url}/_ws_conversation/v1/conversations/stream")
        self._reader = asyncio.create_task(self._read())
        return self

    async def close(self) -> None:
        self._reader.cancel()
        await self._ws.close()

    async def _read(self) -> None:
        async for frame in self._ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(frame.data)
            if event.get("action") not in ("createMessage", "updateMessage"):
                continue
            raw = event["message"]
            card = next((a.get("content") for a in raw.get("attachments") or [] if a.get("contentType") == ADAPTIVE),
                        None)
            known = self.messages.get(raw["messageId"])
            message = Message(id=raw["messageId"], conversation_id=event["actionConversationId"],
                              text=raw.get("text") or "", card=card, versions=known.versions + 1 if known else 1)
            if known is None:
                self.order.append(message.id)
            self.messages[message.id] = message
            async with self._changed:
                self._changed.notify_all()

    async def say(self, text: str) -> str:
        """Type `text` in this user's 1:1 chat with the bot; the Playground's id for the message."""
        body = {"from": {"id": self.user_id}, "text": text, "textFormat": "plain"}
        async with self.session.post(f"{self.base_url}/_conversation/v1/conversations/{self.chat_id}/messages",
                                     json=body) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["messageId"])

    async def post_in_channel(self, channel: str, text: str) -> str:
        """Start a new post in the team channel named `channel`, beginning with an @mention of the bot
        (`<at>Contain</at> text`, with its mention entity), as the page sends it when the user picks the bot
        from the @ list. The Playground forwards a channel message to the bot only when it mentions it.
        Returns the post's conversation id, "<channel id>;messageid=<post id>"."""
        if channel not in self.channels:
            raise AssertionError(f"{self.user_name}'s Playground has no channel {channel!r}: {list(self.channels)}")
        at = f"<at>{self.bot_name}</at>"
        body = {"from": {"id": self.user_id}, "text": f"{at} {text}", "textFormat": "plain",
                "mentions": [{"mentioned": {"id": self.bot_id, "name": self.bot_name}, "text": at}]}
        url = f"{self.base_url}/_conversation/v1/conversations/{self.channels[channel]}/messages"
        async with self.session.post(url, json=body) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["postConversationId"])

    async def click(self, message: Message, title: str, **inputs: Any) -> dict[str, Any]:
        """Press a card button as this user, the card's inputs left as shown except `inputs`. Returns the
        invoke's answer; an answered card replaces the message's card, as on the page."""
        action = message.action(title)
        data = {**card_inputs(message.card or {}), **inputs, **(action.get("data") or {})}
        body = {"name": "adaptiveCard/action", "from": {"id": self.user_id},
                "conversation": {"id": message.conversation_id}, "replyToId": message.id,
                "value": {"action": {"type": "Action.Execute", "title": title, "verb": action["verb"], "data": data}}}
        async with self.session.post(f"{self.base_url}/_conversation/v1/invoke", json=body) as response:
            assert response.status == 200, f"{title}: HTTP {response.status} {await response.text()}"
            answer: dict[str, Any] = await response.json()
        if answer.get("type") == ADAPTIVE:
            self.messages[message.id] = Message(id=message.id, conversation_id=message.conversation_id,
                                                text=message.text, card=answer["value"], versions=message.versions)
        return answer

    async def wait_for(self, check: Callable[[Message], bool], what: str, *, timeout_s: float = 20.0,
                       after: int = 0) -> Message:
        """The first message (from the `after`-th on) for which `check` holds, waiting for the bot."""
        async def first() -> Message:
            async with self._changed:
                while True:
                    for message_id in self.order[after:]:
                        if check(self.messages[message_id]):
                            return self.messages[message_id]
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(first(), timeout_s)
        except TimeoutError:
            seen = [self.messages[i].joined[:120] for i in self.order[after:]]
            raise AssertionError(f"{self.user_name}'s Playground never showed {what} within {timeout_s:.0f} s; "
                                 f"it showed: {seen}") from None
