"""Time and endings: pending approvals expire (the card says so) with a reminder in the thread
halfway; a responder closes an incident with a reason (its card shows it closed and the thread gets a
final summary); and `contain.refresh` shows the card as it stands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from cards import approval_reminder_text
from cards import verbs as v
from dialogs.flows import announce
from dialogs.flows.background import Background
from dialogs.flows.deps import FlowDeps, actor_of
from dialogs.flows.execute import Worker, post_summary
from dialogs.flows.guard import Click, guarded, incident_of_card, invoke_card, refuse
from dialogs.flows.render import current_card, target_of
from dialogs.router import Outcome, Poster, Reply, Router, UpdateCard
from services import approvals
from services.approvals.common import clean_reason
from services.store import dedupe
from services.store import incidents as incident_repo
from services.store import requests as request_repo
from services.store.db import utcnow
from services.store.records import ActionRequest
from services.vocabulary import ActionId

log = logging.getLogger("contain.timers")


PRUNE_EVERY = timedelta(hours=1)
PRUNE_OLDER_THAN = timedelta(days=7)


class Timers:
    """Expiry and halfway reminders, checked every `interval_s` (a few seconds is plenty: the window is
    thirty minutes)."""

    def __init__(self, deps: FlowDeps, worker: Worker, *, interval_s: float = 5.0) -> None:
        self.deps, self.worker, self.interval_s = deps, worker, interval_s
        self._background = Background("contain-timers")
        self._pruned_at: datetime | None = None

    def start(self) -> None:
        self._background.start(self._loop)

    async def stop(self) -> None:
        await self._background.stop()

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("expiry and reminder round failed; it runs again shortly")
            await asyncio.sleep(self.interval_s)

    async def tick(self, *, now: datetime | None = None) -> None:
        """One round: expire what is due (cards updated), remind what is halfway (once each), post what the
        command line announced."""
        expired = await approvals.expire_due(self.deps.store, now=now)
        for incident_id in _ids(expired, "incident_id"):
            incident = await incident_repo.get(self.deps.store, incident_id=incident_id)
            if incident is not None:
                await self.worker.update_card(incident)
        for batch_id in _ids(expired, "batch_id"):
            await self.worker.summary_if_done(batch_id)
        reminders = await approvals.due_reminders(self.deps.store, now=now)
        for batch_id in _ids(reminders, "batch_id"):
            await self._remind([r for r in reminders if r.batch_id == batch_id], now=now or utcnow())
        await announce.drain(self.deps, self.worker)  # what `contain` processes left for the threads
        await self._prune(now or utcnow())

    async def _prune(self, now: datetime) -> None:
        """Once an hour, forget replay keys and handled activity ids far older than any redelivery window
        (Teams retries within minutes; a webhook timestamp is good for five), and expired choices."""
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        forgotten = await dedupe.prune(self.deps.store, older_than=now - PRUNE_OLDER_THAN)
        if forgotten:
            log.info("forgot %d replay keys and expired choices older than %s", forgotten, PRUNE_OLDER_THAN)

    async def _remind(self, reqs: list[ActionRequest], *, now: datetime) -> None:
        incident = await incident_repo.get(self.deps.store, incident_id=reqs[0].incident_id)
        if incident is None or not incident.conversation_ref or reqs[0].expires_at is None:
            return
        text = approval_reminder_text(target=target_of(incident), actions=[ActionId(r.action) for r in reqs],
                                      expires_at=reqs[0].expires_at, now=now)
        await self.deps.post_to(incident.conversation_ref).post(Reply(text=text))


def _ids(reqs: Iterable[ActionRequest], attr: str) -> list[str]:
    return list(dict.fromkeys(getattr(r, attr) for r in reqs))


@guarded("close an incident", load=incident_of_card)
async def on_close(deps: FlowDeps, admitted: Click) -> Outcome:
    turn, incident = admitted.turn, admitted.open_incident
    reason = turn.inputs.get(v.REASON_INPUT)
    cleaned = clean_reason(reason if isinstance(reason, str) else None)
    if cleaned is None:
        return await refuse(deps, turn, "Give a reason for closing (up to 500 characters).", incident=incident,
                            correlation_id=admitted.correlation_id)
    closed = await incident_repo.close(deps.store, incident_id=incident.id, actor=actor_of(turn), reason=cleaned,
                                       correlation_id=admitted.correlation_id)
    if closed is None:
        return await refuse(deps, turn, f"Incident {incident.id} was already closed.", incident=incident,
                            correlation_id=admitted.correlation_id)
    card = await current_card(deps.card_ctx(admitted.correlation_id), deps.store, closed)

    async def after(poster: Poster) -> None:
        if closed.conversation_ref and closed.card_activity_id and turn.reply_to_id != closed.card_activity_id:
            await deps.post_to(closed.conversation_ref).post(UpdateCard(card, activity_id=closed.card_activity_id))
        if not closed.conversation_ref:
            return
        thread = deps.post_to(closed.conversation_ref)
        await thread.post(Reply(text=f"Incident closed by {turn.user.name or 'a responder'}: {cleaned}"))
        if await request_repo.for_incident(deps.store, incident_id=closed.id):
            await post_summary(deps, closed)

    return Outcome(outputs=invoke_card(card).outputs, after=after)


@guarded("view an incident", load=incident_of_card, open_only=False)
async def on_refresh(deps: FlowDeps, admitted: Click) -> Outcome:
    """The card as it stands (Universal Actions refresh, "Back", "Show current state")."""
    return invoke_card(await current_card(deps.card_ctx(admitted.correlation_id), deps.store, admitted.open_incident))


def register(router: Router, deps: FlowDeps) -> None:
    router.on_verb(v.CLOSE, lambda turn: on_close(deps, turn))
    router.on_verb(v.REFRESH, lambda turn: on_refresh(deps, turn))
