"""Alert threads: what the bot posts for an alert the services took in (webhook or pollers).

    threads = AlertThreads(deps, start_thread=..., channel_id=settings.channel_id)
    await threads.deliver(result)     # an IntakeResult: new_thread → a thread with the incident card,
                                      # reply → "New alert: …" in the incident's thread + alert history
    await threads.recover()           # at start: alert incidents whose thread was never posted

Intake decides and records; posting may lag behind it or fail (no channel set yet, the Bot Connector
down, a crash in between). So every post works from the store as it is now: a reply whose incident has
no card yet is skipped (the card, when posted, lists every alert), and an open alert incident without
a card is what `recover` (at start, and when a channel is chosen) posts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cards import incident_card
from dialogs.flows.channel import security_channel
from dialogs.flows.deps import FlowDeps
from dialogs.flows.render import alert_views, investigation_of, source_name
from dialogs.router import Reply, UpdateCard
from services.alerts.intake import ALERTS_ACTOR, Decision, IntakeResult
from services.store import alerts as alert_store
from services.store import audit
from services.store import incidents as incident_repo
from services.store import requests as request_repo
from services.store.records import Incident, IncidentSource, IncidentStatus

log = logging.getLogger("contain.alerts")

# start(channel reference, card) -> (thread reference, card activity id); dialogs.gateway builds it.
StartThread = Callable[[Mapping[str, Any], dict[str, Any]], Awaitable[tuple[dict[str, Any], str | None]]]

RECOVER_LIMIT = 200


class AlertThreads:
    def __init__(self, deps: FlowDeps, *, start_thread: StartThread, channel_id: str | None = None) -> None:
        self.deps, self.start_thread, self.channel_id = deps, start_thread, channel_id
        # One post per incident at a time in this instance: a webhook delivery and recovery must not
        # both start a thread for the same incident.
        self._locks: dict[str, asyncio.Lock] = {}
        self._warned = False
        self._tasks: set[asyncio.Future[None]] = set()

    async def deliver(self, result: IntakeResult) -> None:
        """Post what an intake result asks for; never raises for a post that cannot be made."""
        if result.incident_id is None or result.decision is Decision.NONE:
            return
        lock = self._locks.setdefault(result.incident_id, asyncio.Lock())
        async with lock:
            incident = await incident_repo.get(self.deps.store, incident_id=result.incident_id)
            if incident is None or incident.is_closed:
                return
            if incident.card_activity_id and incident.conversation_ref:
                if result.decision is Decision.REPLY:
                    await self._reply(incident, result)
                else:  # recovery posted the thread first: bring its card up to date in place
                    await self._refresh_card(incident)
                return
            if result.decision is Decision.REPLY and not incident.investigation:
                # The first alert's delivery is still investigating and will post the thread, whose card
                # lists this alert too; posting now would start it with an empty investigation.
                return
            await self._new_thread(incident)  # a reply before its thread: the card lists the alert

    async def recover(self) -> int:
        """Post the thread of every open alert incident that has none (a crash, or no channel at the time)."""
        waiting = [i for i in await incident_repo.list_incidents(self.deps.store, status=IncidentStatus.OPEN,
                                                                 limit=RECOVER_LIMIT)
                   if i.source is IncidentSource.ALERT and not i.card_activity_id]
        posted = 0
        for incident in reversed(waiting):  # oldest first
            lock = self._locks.setdefault(incident.id, asyncio.Lock())
            async with lock:
                fresh = await incident_repo.get(self.deps.store, incident_id=incident.id)
                if fresh is not None and not fresh.is_closed and not fresh.card_activity_id:
                    posted += await self._new_thread(fresh)
        return posted

    async def card(self, incident: Incident) -> dict[str, Any]:
        """The incident card with its alert history (the card an alert thread starts with)."""
        alerts = await alert_views(self.deps.store, incident_id=incident.id)
        return incident_card(self.deps.card_ctx(), incident_id=incident.id, investigation=investigation_of(incident),
                             alerts=alerts, closed=incident.is_closed)

    async def _new_thread(self, incident: Incident) -> int:
        channel = await security_channel(self.deps.store, configured_id=self.channel_id)
        if channel is None:
            if not self._warned:
                self._warned = True
                log.warning("alert incident %s is recorded but no security channel is set: set CONTAIN_CHANNEL_ID "
                            "or type /compromised set-channel in the channel", incident.id)
            else:
                log.info("alert incident %s is recorded; no security channel is set", incident.id)
            return 0
        card = await self.card(incident)
        try:
            thread, activity_id = await self.start_thread(channel, card)
        except Exception:
            log.warning("could not start the thread of alert incident %s; it is retried at the next start or "
                        "when a channel is chosen", incident.id, exc_info=True)
            return 0
        conversation_id = str((thread.get("conversation") or {}).get("id") or "")
        await incident_repo.set_card(self.deps.store, incident_id=incident.id, conversation_ref=thread,
                                     conversation_id=conversation_id or None, card_activity_id=activity_id)
        await audit.record(self.deps.store, actor=ALERTS_ACTOR, event="alert.thread", target=incident.target_upn,
                           outcome="posted", incident_id=incident.id,
                           detail=f"Incident {incident.id} thread started in the security channel.")
        return 1

    async def _reply(self, incident: Incident, result: IntakeResult) -> None:
        assert incident.conversation_ref is not None
        alert = next((a for a in await alert_store.for_incident(self.deps.store, incident_id=incident.id)
                      if a.alert_id == result.alert_id and a.source == result.source), None)
        if alert is None:
            return
        text = f"New alert: {source_name(alert.source)} {alert.severity} {alert.title}"
        thread = self.deps.post_to(incident.conversation_ref)
        try:
            await thread.post(Reply(text=text))
            # The alert history is on the incident card; once actions were requested the thread card
            # shows their progress instead, and that stays as it is.
            if not await request_repo.for_incident(self.deps.store, incident_id=incident.id):
                await thread.post(UpdateCard(await self.card(incident), activity_id=incident.card_activity_id))
        except Exception:
            log.warning("could not post alert %s in the thread of incident %s", result.alert_id, incident.id,
                        exc_info=True)

    async def _refresh_card(self, incident: Incident) -> None:
        assert incident.conversation_ref is not None
        if await request_repo.for_incident(self.deps.store, incident_id=incident.id):
            return  # the thread card shows the actions' progress now; leave it
        try:
            await self.deps.post_to(incident.conversation_ref).post(
                UpdateCard(await self.card(incident), activity_id=incident.card_activity_id))
        except Exception:
            log.warning("could not refresh the card of incident %s", incident.id, exc_info=True)

    # -- background posting (the webhook answers first, then posts) -----------------------------------
    def spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Awaitable[Any]) -> None:
        try:
            await work
        except Exception:
            log.exception("posting an alert thread failed")

    async def drain(self, wait_s: float = 10.0) -> None:
        """Wait for posts still running (shutdown, tests)."""
        while self._tasks:
            done, _ = await asyncio.wait(set(self._tasks), timeout=wait_s)
            if not done:
                return
