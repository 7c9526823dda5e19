"""Routing through botbuilder's TestAdapter: the gateway turns activities into plain Turns and the
router's outputs back into activities."""

from __future__ import annotations

from typing import Any

from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount, Entity

from dialogs import commands
from dialogs.gateway import Gateway, to_turn
from dialogs.router import Outcome, Reply, Router, Turn, plain_card, say


def _adapter(router: Router) -> TestAdapter:
    gateway = Gateway(router, bot_app_id="", auth_off=True, sandbox=True)
    return TestAdapter(gateway.on_turn)


def _message(text: str, *, conversation_type: str = "personal", entities: list[Entity] | None = None) -> Activity:
    return Activity(
        type=ActivityTypes.message, text=text, channel_id="msteams", entities=entities,
        from_property=ChannelAccount(id="29:1dave", name="Dave", aad_object_id="aad-dave"),
        recipient=ChannelAccount(id="28:bot", name="Contain"),
        conversation=ConversationAccount(id="conv-1", conversation_type=conversation_type),
        channel_data={"tenant": {"id": "tenant-1"}},
    )


async def test_each_command_reaches_its_handler() -> None:
    seen: list[Any] = []
    router = Router()

    async def record(turn: Turn) -> Outcome:
        seen.append(turn.command)
        return say("ok")

    for command_type in (commands.Investigate, commands.Status, commands.Score, commands.SetChannel):
        router.on_command(command_type, record)
    adapter = _adapter(router)
    for text in ("/compromised alice", "/compromised status bob", "/compromised score", "/compromised set-channel"):
        await (await adapter.send(text)).assert_reply("ok")
    assert seen == [commands.Investigate("alice"), commands.Status("bob"), commands.Score(), commands.SetChannel()]


async def test_help_and_unknown_answer_with_help() -> None:
    adapter = _adapter(Router())
    await (await adapter.send("help")).assert_reply(
        lambda activity, _description=None: _contains(activity, "/compromised"))
    await (await adapter.send("what is this")).assert_reply(
        lambda activity, _description=None: _contains(activity, "did not understand"))


def _contains(activity: Activity, fragment: str) -> None:
    assert fragment in (activity.text or "")


async def test_turn_carries_identity_conversation_and_tenant() -> None:
    captured: list[Turn] = []
    router = Router()

    async def record(turn: Turn) -> Outcome:
        captured.append(turn)
        return Outcome(outputs=(Reply(card=plain_card("card")),))

    router.on_command(commands.Investigate, record)
    adapter = _adapter(router)
    mention = Entity(type="mention")
    mention.additional_properties = {"text": "<at>Contain</at>", "mentioned": {"id": "28:bot", "name": "Contain"}}
    reply_seen: list[Activity] = []
    await (await adapter.send(_message("<at>Contain</at> compromised alice", conversation_type="channel",
                                       entities=[mention]))).assert_reply(
        lambda activity, _description=None: reply_seen.append(activity))
    [turn] = captured
    assert turn.user.aad_id == "aad-dave" and turn.user.name == "Dave" and turn.user.channel_id == "29:1dave"
    assert (turn.conversation_id, turn.conversation_type, turn.tenant_id) == ("conv-1", "channel", "tenant-1")
    assert turn.auth_off and turn.sandbox
    assert reply_seen[0].attachments[0].content_type == "application/vnd.microsoft.card.adaptive"


async def test_a_failing_handler_becomes_one_sentence_with_a_correlation_id() -> None:
    router = Router()

    async def broken(turn: Turn) -> Outcome:
        raise RuntimeError("secret detail that must not reach the chat")

    router.on_command(commands.Investigate, broken)
    adapter = _adapter(router)

    def check(activity: Activity, _description: Any = None) -> None:
        assert "correlation id" in activity.text and "secret detail" not in activity.text

    await (await adapter.send("/compromised alice")).assert_reply(check)


def test_unrouted_activity_types_have_no_turn() -> None:
    activity = _message("x")
    activity.type = ActivityTypes.typing
    assert to_turn(activity) is None
    activity.type = ActivityTypes.invoke
    activity.name = "signin/verifyState"
    assert to_turn(activity) is None


def test_card_data_is_split_into_ids_and_inputs() -> None:
    activity = _message("")
    activity.type = ActivityTypes.invoke
    activity.name = "adaptiveCard/action"
    activity.value = {"action": {"verb": "confirm", "data": {"request": "r-1", "reason": "phished"}}}
    turn = to_turn(activity)
    assert turn is not None and turn.verb == "confirm"
    assert turn.data == {"request": "r-1", "reason": "phished"} and turn.inputs == {"reason": "phished"}


def test_card_data_of_the_wrong_shape_is_empty_not_an_error() -> None:
    activity = _message("")
    activity.type = ActivityTypes.invoke
    activity.name = "adaptiveCard/action"
    activity.value = {"action": {"verb": ["x"], "data": "not a dict"}}
    turn = to_turn(activity)
    assert turn is not None and turn.verb == "" and dict(turn.data) == {}
