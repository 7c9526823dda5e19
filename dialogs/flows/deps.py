"""What every flow works with, built once in dialogs.wiring: the store, the tenant, the responder check,
a way to post into a stored conversation after the turn, and the worker's doorbell.

Flows never import botbuilder or msgraph: posting goes through `Poster` (dialogs.router) and tenant
reads through the services.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cards import CardContext
from dialogs.router import Person, Poster, Turn
from services.ports import ResponderCheck, TenantWrites
from services.store import conversations
from services.store.db import Store
from services.vocabulary import Actor

if TYPE_CHECKING:
    from services.tenant.facade import Tenant

# Longest id a card may carry back (ours are ~20 characters); anything longer is forged.
MAX_ID = 64
PERSON_KEY = "person:"


@dataclass
class FlowDeps:
    store: Store
    tenant: Tenant  # reads (services.ports.TenantReads once services.findings takes the port)
    writer: TenantWrites  # the tenant's write clients (built in bot.py; services.actions.writer)
    is_responder: ResponderCheck
    post_to: Callable[[Mapping[str, Any]], Poster]  # a poster for a stored conversation reference
    sandbox: bool = True
    auth_off: bool = False
    ttl: timedelta = timedelta(minutes=30)
    summary_audit_wait_s: float = 20.0
    verify_wait_s: float = 20.0  # Settings.verify_wait_s: how long a read-back waits for a delayed change
    kick: Callable[[], None] = field(default=lambda: None)  # wake the execution worker now
    # Responders whose channel account this process already stored: saves a commit on every turn.
    people_saved: dict[str, tuple[str, str]] = field(default_factory=dict)

    def card_ctx(self, correlation_id: str | None = None) -> CardContext:
        return CardContext.current(sandbox=self.sandbox, auth_off=self.auth_off, correlation_id=correlation_id)


def correlation() -> str:
    return uuid.uuid4().hex[:12]


def actor_of(turn: Turn) -> Actor:
    """The clicker as policy and audit know them: the AAD object id (never the channel account id)."""
    return Actor(turn.user.aad_id, turn.user.name or turn.user.aad_id)


def card_id(data: Mapping[str, Any], key: str, prefix: str) -> str | None:
    """An opaque id from untrusted card data: a short string with our prefix, else None."""
    value = data.get(key)
    if not isinstance(value, str) or not value.startswith(prefix) or len(value) > MAX_ID:
        return None
    return value


def reference_key(turn: Turn) -> str:
    """The key under which the bot keeps this turn's conversation reference (dialogs.wiring.reference_sink)."""
    if turn.conversation_type == "personal":
        return turn.user.aad_id or turn.conversation_id
    return turn.conversation_id


async def remember_person(deps: FlowDeps, turn: Turn) -> None:
    """Keep the Teams channel account id of a responder: a 1:1 chat (the temporary password) needs it,
    possibly from another instance, long after this turn."""
    if not turn.user.aad_id or not turn.user.channel_id:
        return
    known = (turn.user.channel_id, turn.user.name)
    if deps.people_saved.get(turn.user.aad_id) == known:
        return
    await conversations.save(deps.store, key=PERSON_KEY + turn.user.aad_id,
                             kind=conversations.ConversationKind.PERSONAL,
                             reference={"channelAccountId": turn.user.channel_id, "name": turn.user.name})
    deps.people_saved[turn.user.aad_id] = known


async def person(deps: FlowDeps, actor: Actor) -> Person | None:
    stored = await conversations.get(deps.store, key=PERSON_KEY + actor.id)
    if not stored or not stored.get("channelAccountId"):
        return None
    return Person(aad_id=actor.id, name=actor.name, channel_id=str(stored["channelAccountId"]))


async def turn_reference(deps: FlowDeps, turn: Turn) -> dict[str, Any] | None:
    return await conversations.get(deps.store, key=reference_key(turn))
