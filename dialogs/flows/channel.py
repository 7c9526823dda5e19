"""The security channel: where alert threads go.

Configured by id (CONTAIN_CHANNEL_ID), or chosen in Teams: the bot keeps every conversation reference
it sees (the bot stores them when it is added to a team and on the first message of each
conversation), and a responder types `/compromised set-channel` in the channel to choose it. The
choice is kept under one stable key, `channel:security`, as a reference to the channel itself (not
to the thread the command was typed in), so a new alert starts a new thread there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from dialogs import commands
from dialogs.flows.deps import FlowDeps, actor_of, correlation, turn_reference
from dialogs.router import Outcome, Poster, Router, Turn, say
from services.approvals.common import refuse_access
from services.store import audit, conversations, dedupe

log = logging.getLogger("contain.alerts")

CHANNEL_KEY = conversations.SECURITY_CHANNEL_KEY
NOT_RESPONDER = "Only members of the responders group can choose the security channel; this attempt was recorded."
NOT_A_CHANNEL = "Type /compromised set-channel in the team channel where alert threads should go."
NO_REFERENCE = "Contain could not keep this channel's address; mention the bot here once more and try again."


def channel_of(conversation_id: str) -> str:
    """A thread's conversation id is "<channel id>;messageid=<root>"; the channel is the part before."""
    return conversation_id.split(";", 1)[0]


def _as_channel(reference: dict[str, Any], channel_id: str) -> dict[str, Any]:
    out = {k: v for k, v in reference.items() if k != "activityId"}
    out["conversation"] = {**dict(reference.get("conversation") or {}), "id": channel_id,
                           "conversationType": "channel", "isGroup": True}
    return out


async def security_channel(store: Any, *, configured_id: str | None) -> dict[str, Any] | None:
    """The reference new alert threads are started from, or None when no channel is set.

    With CONTAIN_CHANNEL_ID, its captured reference (the bot was added to its team); failing that, the
    address of any conversation the bot knows in the tenant (the service URL and the bot's account are
    per tenant) pointed at that channel. Without it, the channel a responder chose."""
    if configured_id:
        stored = await conversations.get(store, key=configured_id)
        if stored:
            return _as_channel(stored, configured_id)
        for row in await conversations.list_refs(store, kind=conversations.ConversationKind.CHANNEL):
            reference = row["reference"] or {}
            if reference.get("serviceUrl"):
                return _as_channel(reference, configured_id)
        return None
    return await conversations.get(store, key=CHANNEL_KEY)


async def on_set_channel(deps: FlowDeps, turn: Turn, *, configured_id: str | None,
                         on_chosen: Callable[[], Awaitable[Any]] | None = None) -> Outcome:
    """`/compromised set-channel`: responders only, audited, kept in the store."""
    correlation_id = correlation()
    if turn.activity_id and await dedupe.seen_activity(deps.store, activity_id=f"message:{turn.activity_id}"):
        return Outcome()  # Teams redelivered the message
    if not turn.user.aad_id or not await deps.is_responder(turn.user.aad_id):
        await refuse_access(deps.store, actor=actor_of(turn), attempted="choose the security channel",
                            incident_id=None, correlation_id=correlation_id)
        return say(NOT_RESPONDER)
    if turn.conversation_type != "channel" or not turn.conversation_id:
        return say(NOT_A_CHANNEL)
    channel_id = channel_of(turn.conversation_id)
    if configured_id and configured_id != channel_id:
        return say("CONTAIN_CHANNEL_ID names the security channel for this installation; alert threads go there. "
                   "Unset it to choose the channel in Teams.")
    reference = await turn_reference(deps, turn)
    if not reference:
        return say(NO_REFERENCE)
    name = turn.channel_name or channel_id
    await conversations.save(deps.store, key=CHANNEL_KEY, kind=conversations.ConversationKind.CHANNEL,
                             reference=_as_channel(reference, channel_id), team_id=turn.team_id)
    await audit.record(deps.store, actor=actor_of(turn), event="channel.set", target=channel_id, outcome="set",
                       correlation_id=correlation_id, detail=f"Alert threads go to channel {name[:120]}.")

    async def after(_poster: Poster) -> None:
        if on_chosen is not None:
            await on_chosen()  # alerts that arrived while no channel was set get their threads now

    return Outcome(outputs=say(f"Alert threads will be posted in this channel ({name[:120]}).").outputs,
                   after=after if on_chosen is not None else None)


def register(router: Router, deps: FlowDeps, *, configured_id: str | None,
             on_chosen: Callable[[], Awaitable[Any]] | None = None) -> None:
    router.on_command(commands.SetChannel,
                      lambda turn: on_set_channel(deps, turn, configured_id=configured_id, on_chosen=on_chosen))
