"""The thin botbuilder module (with dialogs.web and dialogs.botauth): activities in, plain `Turn`s to the router, plain
outputs back out as Bot Connector calls.

Acknowledge first, work after: an `Outcome.after` is not started inside the turn. `Gateway.process`
returns it as a deferred starter that dialogs.web calls only once the HTTP response (for a card click, the
invoke response with the "running" card) has been written. Later posts go through
`continue_conversation`, always with the bot app id: without it botbuilder takes a legacy path that
breaks under CloudAdapter.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from botbuilder.core import Bot, CardFactory, InvokeResponse, MessageFactory, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)

from dialogs import commands
from dialogs.outbox import Outbox, fit_card
from dialogs.router import (
    CARD_ID_KEYS,
    InvokeCard,
    Outcome,
    Output,
    Person,
    PrivateMessage,
    Reply,
    Router,
    Turn,
    UpdateCard,
)

log = logging.getLogger("contain.gateway")

ADAPTIVE_CARD_ACTION = "adaptiveCard/action"
CARD_RESPONSE_TYPE = "application/vnd.microsoft.card.adaptive"
MESSAGE_RESPONSE_TYPE = "application/vnd.microsoft.activity.message"
ROUTED_TYPES = frozenset({ActivityTypes.message, ActivityTypes.invoke, ActivityTypes.conversation_update})

# Work to start once the HTTP response is out; set per request by `Gateway.process`.
_DEFERRED: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "contain_deferred", default=None
)


def _mapping(value: Any) -> Mapping[str, Any]:
    """Untrusted JSON: anything that is not an object reads as an empty one."""
    return value if isinstance(value, Mapping) else {}


def tenant_of(activity: Activity) -> str | None:
    tenant = _mapping(_mapping(activity.channel_data).get("tenant")).get("id")
    return tenant or (activity.conversation.tenant_id if activity.conversation else None)


def card_invoke_response(card: Mapping[str, Any]) -> InvokeResponse:
    """The body Teams expects for a Universal Action answered with a card. Built here, as a plain
    dict, and written once by dialogs.web: letting botbuilder serialise it a second time is the HTTP 500
    trap under CloudAdapter."""
    return InvokeResponse(
        status=HTTPStatus.OK,
        body={"statusCode": 200, "type": CARD_RESPONSE_TYPE, "value": dict(card)},
    )


def message_invoke_response(text: str) -> InvokeResponse:
    return InvokeResponse(status=HTTPStatus.OK, body={"statusCode": 200, "type": MESSAGE_RESPONSE_TYPE, "value": text})


def to_turn(activity: Activity, *, auth_off: bool = False, sandbox: bool = False) -> Turn | None:
    """A plain Turn for the router, or None for activities Contain does not act on."""
    if activity.type not in ROUTED_TYPES:
        return None
    sender = activity.from_property or ChannelAccount()
    conversation = activity.conversation
    conversation_type = (conversation.conversation_type if conversation else None) or "personal"
    data = _mapping(activity.channel_data)
    team = _mapping(data.get("team"))
    channel = _mapping(data.get("channel"))
    common: dict[str, Any] = {
        "user": Person(aad_id=sender.aad_object_id or "", name=sender.name or "", channel_id=sender.id or ""),
        "conversation_id": conversation.id if conversation else "",
        "conversation_type": conversation_type,
        "tenant_id": tenant_of(activity),
        "activity_id": activity.id,
        "reply_to_id": activity.reply_to_id,
        "team_id": team.get("id"),
        "channel_name": channel.get("name"),
        "auth_off": auth_off,
        "sandbox": sandbox,
    }
    if activity.type == ActivityTypes.message:
        entities = [{"type": e.type, **(e.additional_properties or {})} for e in activity.entities or ()]
        bot_id = activity.recipient.id if activity.recipient else None
        text, mentioned = commands.strip_mentions(activity.text or "", entities, bot_id)
        command = commands.parse(text, personal=conversation_type == "personal", mentioned=mentioned)
        return Turn(kind="message", text=text.strip(), command=command, **common)
    if activity.type == ActivityTypes.invoke:
        if activity.name != ADAPTIVE_CARD_ACTION:
            return None
        action = _mapping(_mapping(activity.value).get("action"))
        verb = action.get("verb") if isinstance(action.get("verb"), str) else ""
        raw = _mapping(action.get("data"))
        inputs = {k: v for k, v in raw.items() if k not in CARD_ID_KEYS}
        return Turn(kind="invoke", verb=verb, data=dict(raw), inputs=inputs, **common)
    recipient_id = activity.recipient.id if activity.recipient else None
    added = tuple(m.id for m in activity.members_added or () if m and m.id)
    return Turn(kind="conversationUpdate", members_added=added, bot_added=recipient_id in added, **common)


def _card_activity(card: Mapping[str, Any]) -> Activity:
    return MessageFactory.attachment(CardFactory.adaptive_card(dict(card)))


def _fitted_card_activity(context: TurnContext, card: Mapping[str, Any], *, text: str | None = None,
                          activity_id: str | None = None) -> Activity:
    """The card's activity, the card reduced when the activity as the Bot Connector receives it (the
    conversation reference applied, JSON with non-ASCII escaped, counted in UTF-16) is over Teams' limit."""
    def build(content: Mapping[str, Any]) -> Activity:
        activity = _card_activity(content)
        activity.text, activity.id = text, activity_id
        return activity

    def size(content: Mapping[str, Any]) -> int:
        probe = build(content)
        TurnContext.apply_conversation_reference(probe, TurnContext.get_conversation_reference(context.activity))
        return 2 * len(json.dumps(probe.serialize()))

    return build(fit_card(dict(card), size))  # fit_card works on a copy when it has to reduce


def _lane(context: TurnContext) -> str:
    conversation = context.activity.conversation
    return conversation.id if conversation and conversation.id else ""


class Gateway(Bot):
    """botbuilder's `Bot`: runs one turn through the router and delivers the outputs."""

    def __init__(self, router: Router, *, bot_app_id: str, auth_off: bool = False, sandbox: bool = False) -> None:
        self.router = router
        self.bot_app_id = bot_app_id
        self.auth_off = auth_off
        self.sandbox = sandbox
        self.adapter: Any = None  # built by bot.py, set by dialogs.web: continue_conversation / create_conversation
        self._tasks: set[asyncio.Task[None]] = set()
        self._known_conversations: set[str] = set()
        self.outbox = Outbox()  # every post and card update, one ordered, paced lane per conversation

    async def process(
        self, adapter: Any, auth: Any, activity: Activity
    ) -> tuple[InvokeResponse | None, list[Callable[[], None]]]:
        """Run one authenticated activity; return the invoke response and the work to start after it."""
        deferred: list[Callable[[], None]] = []
        token = _DEFERRED.set(deferred)
        try:
            response = await adapter.process_activity(auth, activity, self.on_turn)
        finally:
            _DEFERRED.reset(token)
        return response, deferred

    async def on_turn(self, context: TurnContext) -> None:
        activity = context.activity
        turn = to_turn(activity, auth_off=self.auth_off, sandbox=self.sandbox)
        if turn is None:
            if activity.type == ActivityTypes.invoke:  # answer every invoke; never leave Teams waiting
                await self._invoke_response(context, InvokeResponse(status=HTTPStatus.OK))
            return
        await self._capture_reference(turn, activity)
        outcome: Outcome = await self.router.route(turn)
        answered = False
        for output in outcome.outputs:
            if isinstance(output, InvokeCard) and turn.kind == "invoke":
                await self._invoke_response(context, card_invoke_response(output.card))
                answered = True
            else:
                await self._deliver(context, turn, output)
        if turn.kind == "invoke" and not answered:
            await self._invoke_response(context, message_invoke_response(""))
        if outcome.after is not None:
            reference = TurnContext.get_conversation_reference(activity)
            self._defer(outcome, reference, turn)

    async def _invoke_response(self, context: TurnContext, response: InvokeResponse) -> None:
        await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=response))

    async def _capture_reference(self, turn: Turn, activity: Activity) -> None:
        """Conversation references are what proactive posting needs later; the store keeps them."""
        sink = self.router.on_reference
        if sink is None or (turn.kind != "conversationUpdate" and turn.conversation_id in self._known_conversations):
            return
        self._known_conversations.add(turn.conversation_id)
        try:
            await sink(turn, TurnContext.get_conversation_reference(activity).serialize())
        except Exception:
            log.exception("could not keep the conversation reference")

    async def _deliver(self, context: TurnContext, turn: Turn, output: Output) -> str | None:
        if isinstance(output, Reply):
            if output.card is not None:
                activity = _fitted_card_activity(context, output.card, text=output.text)
            else:
                activity = MessageFactory.text(output.text or "")
            response = await self.outbox.post(_lane(context), lambda: context.send_activity(activity))
            return response.id if response else None
        if isinstance(output, UpdateCard | InvokeCard):
            activity_id = (output.activity_id if isinstance(output, UpdateCard) else None) or turn.reply_to_id
            if not activity_id:
                log.warning("card update without a card to update; posting it instead")
                return await self._deliver(context, turn, Reply(card=output.card))
            update = _fitted_card_activity(context, output.card, activity_id=activity_id)
            await self.outbox.post(_lane(context), lambda: context.update_activity(update), replaces=activity_id)
            return activity_id
        if isinstance(output, PrivateMessage):
            return await self._private(context.activity, output)
        raise TypeError(f"unknown output {type(output).__name__}")

    async def _private(self, activity: Activity, message: PrivateMessage) -> str | None:
        """Open (or reuse) the 1:1 chat with one person and post there, never in the thread."""
        if self.adapter is None or not message.user.channel_id:
            log.warning("cannot open a 1:1 chat: no adapter or no channel account id")
            return None
        tenant = tenant_of(activity)
        params = ConversationParameters(
            is_group=False,
            bot=activity.recipient,
            members=[ChannelAccount(id=message.user.channel_id)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}} if tenant else None,
        )
        sent: list[str | None] = []

        async def send(context: TurnContext) -> None:
            response = await context.send_activity(MessageFactory.text(message.text))
            sent.append(response.id if response else None)

        await self.outbox.post(f"1:1 {message.user.channel_id}", lambda: self.adapter.create_conversation(
            self.bot_app_id, send, params, activity.channel_id, activity.service_url))
        return sent[-1] if sent else None

    def _defer(self, outcome: Outcome, reference: ConversationReference, turn: Turn) -> None:
        assert outcome.after is not None
        after = outcome.after
        poster = _ConversationPoster(self, reference, turn)

        def start() -> None:
            task = asyncio.get_running_loop().create_task(self._run_after(after, poster))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        deferred = _DEFERRED.get()
        if deferred is None:  # not under dialogs.web (e.g. TestAdapter): start now
            start()
        else:
            deferred.append(start)

    async def _run_after(self, after: Any, poster: _ConversationPoster) -> None:
        try:
            await after(poster)
        except Exception:
            log.exception("work after the acknowledgement failed")

    async def drain(self, wait_s: float = 10.0) -> None:
        """Wait for after-work still running (shutdown, tests)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=wait_s)


class _ConversationPoster:
    """Posts outputs into the turn's conversation after the turn is over."""

    def __init__(self, gateway: Gateway, reference: ConversationReference, turn: Turn) -> None:
        self._gateway = gateway
        self._reference = reference
        self._turn = turn

    async def post(self, output: Output) -> str | None:
        adapter = self._gateway.adapter
        if adapter is None:
            raise RuntimeError("the gateway has no adapter for posting after the turn")
        result: list[str | None] = []

        async def callback(context: TurnContext) -> None:
            result.append(await self._gateway._deliver(context, self._turn, output))

        await adapter.continue_conversation(self._reference, callback, self._gateway.bot_app_id)
        return result[0] if result else None


def channel_thread_starter(gateway: Gateway) -> Callable[[Mapping[str, Any], dict[str, Any]], Any]:
    """start(channel reference, card) -> (thread reference, card activity id): a new thread in a Teams
    channel, as TeamsInfo.send_message_to_teams_channel does, but calling create_conversation directly
    so the bot app id is always passed (that helper falls back to the legacy path when it is empty, as
    it is in the sandbox). The thread reference is what every later reply and card update uses."""

    async def start(reference: Mapping[str, Any], card: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        if gateway.adapter is None:
            raise RuntimeError("the gateway has no adapter for starting a channel thread")
        ref = ConversationReference().deserialize(dict(reference))
        conversation = ref.conversation
        if conversation is None or not conversation.id or not ref.service_url:
            raise ValueError("the channel reference has no conversation id or service URL")
        channel_id = conversation.id.split(";", 1)[0]  # a thread's id is "<channel>;messageid=<root>"
        tenant = conversation.tenant_id
        channel_data: dict[str, Any] = {"channel": {"id": channel_id}}
        if tenant:
            channel_data["tenant"] = {"id": tenant}
        params = ConversationParameters(is_group=True, bot=ref.bot, channel_data=channel_data,
                                        activity=_card_activity(card), tenant_id=tenant)
        created: dict[str, Any] = {}

        async def callback(context: TurnContext) -> None:
            created["id"] = context.activity.conversation.id if context.activity.conversation else None
            created["activity_id"] = context.activity.id

        await gateway.outbox.post(channel_id, lambda: gateway.adapter.create_conversation(
            gateway.bot_app_id, callback, params, ref.channel_id or "msteams", ref.service_url))
        thread_id = created.get("id") or f"{channel_id};messageid={created.get('activity_id')}"
        thread = dict(reference)
        thread["conversation"] = {**dict(reference.get("conversation") or {}), "id": thread_id,
                                  "conversationType": "channel", "isGroup": True}
        thread["activityId"] = created.get("activity_id")
        return thread, created.get("activity_id")

    return start
