"""Wiring of the bot's parts: the flows on the router, the responder check, proactive posting, the
alert threads and pollers, each background task registered once in the app's Tasks registry.

The composition root (bot.py) builds the clients; this module only connects what it is given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dialogs.tasks import Tasks
from services.runtime import Runtime
from services.settings import Settings, SettingsError

if TYPE_CHECKING:
    from dialogs.flows import FlowDeps, Flows
    from dialogs.flows.alerts import AlertThreads
    from dialogs.flows.recovery import Recovery
    from dialogs.gateway import Gateway
    from dialogs.router import Poster, ReferenceSink, Router, Turn
    from services.alerts.poll import AlertPoller
    from services.approvals.common import ResponderCheck
    from services.store.db import Store

log = logging.getLogger("contain")


@dataclass
class Parts:
    """What the app runs, once wired: tests and benchmarks reach the worker, the threads and the poller here."""

    auth_off: bool
    gateway: Gateway
    tasks: Tasks
    flows: Flows | None = None
    recovery: Recovery | None = None
    alert_threads: AlertThreads | None = None
    alert_poller: AlertPoller | None = None


def reference_sink(store: Store | None) -> ReferenceSink | None:
    """Keep conversation references in the store (channel threads and 1:1 chats are posted to later)."""
    if store is None:
        return None

    # What this process last saved per key: a reference rarely changes, and a write per turn would put
    # a database commit on every turn's path.
    saved: dict[str, str] = {}

    async def keep(turn: Turn, reference: dict[str, Any]) -> None:
        from services.store import conversations

        if turn.conversation_type == "personal":
            key, kind = turn.user.aad_id or turn.conversation_id, conversations.ConversationKind.PERSONAL
        elif turn.conversation_type == "channel":
            key, kind = turn.conversation_id, conversations.ConversationKind.CHANNEL
        else:
            key, kind = turn.conversation_id, conversations.ConversationKind.GROUP
        fingerprint = json.dumps({k: v for k, v in reference.items() if k != "activityId"}, sort_keys=True,
                                 default=str) + f"|{turn.team_id}"
        if saved.get(key) == fingerprint:
            return
        await conversations.save(store, key=key, kind=kind, reference=reference, team_id=turn.team_id)
        if len(saved) > 10_000:
            saved.clear()
        saved[key] = fingerprint

    return keep


def responders_group_id(runtime: Runtime) -> str | None:
    """CONTAIN_RESPONDERS_GROUP_ID, else (sandbox mode) the group the sandbox tenant declares. A real
    tenant without the setting is refused: nobody could be told apart from a responder."""
    settings = runtime.settings
    if settings.responders_group_id:
        return settings.responders_group_id
    if not settings.sandbox:
        raise SettingsError("CONTAIN_RESPONDERS_GROUP_ID must be set: only members of that Entra group may act "
                            "through Contain.")
    if runtime.sandbox is not None:
        found = runtime.sandbox.info().get("respondersGroupId")
        return str(found) if found else None
    return None  # a sandbox at CONTAIN_SANDBOX_URL: asked at start-up


async def _remote_sandbox_group(settings: Settings) -> str | None:
    import httpx

    if not settings.sandbox_url:
        return None
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.get(f"{settings.sandbox_url}/_sandbox/info")
            response.raise_for_status()
            found = response.json().get("respondersGroupId")
    except (httpx.HTTPError, ValueError):
        return None
    return str(found) if found else None


def proactive_poster(gateway: Gateway) -> Callable[[Mapping[str, Any]], Poster]:
    """post_to(stored reference) -> Poster: posts into a stored conversation after the turn (the worker,
    the timers), through continue_conversation with the bot app id like every later post."""
    from botbuilder.schema import ConversationReference

    from dialogs.gateway import _ConversationPoster
    from dialogs.router import Person, Turn

    def post_to(reference: Mapping[str, Any]) -> Poster:
        ref = ConversationReference().deserialize(dict(reference))
        conversation = ref.conversation
        turn = Turn(kind="message", user=Person(aad_id="", name=""),
                    conversation_id=conversation.id if conversation else "",
                    conversation_type=(conversation.conversation_type if conversation else None) or "personal",
                    tenant_id=conversation.tenant_id if conversation else None, activity_id=None, reply_to_id=None,
                    auth_off=gateway.auth_off, sandbox=gateway.sandbox)
        return _ConversationPoster(gateway, ref, turn)

    return post_to


def install_flows(parts: Parts, runtime: Runtime, router: Router) -> FlowDeps:
    """Register the conversation flows on `router`; the responder check, recovery, the worker and the
    timers go into the registry in that order (recovery names the worker before it claims anything)."""
    from dialogs.flows import FlowDeps, install
    from dialogs.flows.recovery import Recovery
    from services.approvals.responders import responder_check

    settings = runtime.settings
    group_id = responders_group_id(runtime)
    checks: dict[str, ResponderCheck] = {}

    def arm(gid: str) -> None:
        try:
            checks["check"] = responder_check(tenant=runtime.tenant, group_id=gid)
        except ValueError:
            raise SettingsError("CONTAIN_RESPONDERS_GROUP_ID must be the responders group's object id (a GUID).") \
                from None

    if group_id:
        arm(group_id)

    async def is_responder(user_id: str) -> bool:
        check = checks.get("check")
        return bool(check is not None and await check(user_id))  # no group known yet: nobody acts

    deps = FlowDeps(store=runtime.store, tenant=runtime.tenant, writer=runtime.writer, is_responder=is_responder,
                    post_to=proactive_poster(parts.gateway), sandbox=settings.sandbox, auth_off=parts.auth_off,
                    ttl=timedelta(minutes=settings.request_ttl_minutes),
                    summary_audit_wait_s=runtime.tuning.summary_audit_wait_s)
    flows = parts.flows = install(router, deps, timer_interval_s=runtime.tuning.timer_interval_s)

    async def find_group() -> None:
        if "check" not in checks:
            gid = await _remote_sandbox_group(settings)
            if gid:
                arm(gid)
            else:
                log.warning("no responders group is known: every action will be refused")

    def begin_recovery() -> None:
        # Before the worker claims anything: name it, end a dead predecessor's leases, report what was in flight.
        parts.recovery = Recovery(flows, home=settings.home)
        parts.recovery.begin()

    async def stop_recovery() -> None:
        if parts.recovery is not None:
            await parts.recovery.stop()
            parts.recovery = None

    parts.tasks.add("responders", start=find_group)
    parts.tasks.add("recovery", start=begin_recovery, stop=stop_recovery)
    parts.tasks.add("worker", start=flows.worker.start, stop=flows.worker.stop)
    parts.tasks.add("timers", start=flows.timers.start, stop=flows.timers.stop)
    return deps


def install_alert_threads(parts: Parts, runtime: Runtime, router: Router, deps: FlowDeps) -> None:
    """Alert threads, /compromised set-channel, and the pollers. At start, alert incidents whose thread
    was never posted (a crash, or no channel at the time) get it."""
    from dialogs.flows import channel
    from dialogs.flows.alerts import AlertThreads
    from dialogs.gateway import channel_thread_starter
    from services.alerts.poll import AlertPoller

    settings = runtime.settings
    threads = AlertThreads(deps, start_thread=channel_thread_starter(parts.gateway), channel_id=settings.channel_id)
    channel.register(router, deps, configured_id=settings.channel_id, on_chosen=threads.recover)
    poller = AlertPoller(store=runtime.store, tenant=runtime.tenant, interval_s=settings.poll_interval_s,
                         min_risk=settings.alert_min_risk, on_result=threads.deliver)
    parts.alert_threads, parts.alert_poller = threads, poller

    def recover() -> None:
        threads.spawn(threads.recover())

    parts.tasks.add("alert threads", start=recover, stop=threads.drain)
    if runtime.tuning.poll_alerts:  # tests drive run_once() themselves
        parts.tasks.add("alert pollers", start=poller.start, stop=poller.stop)
    else:
        parts.tasks.add("alert pollers", stop=poller.stop)
