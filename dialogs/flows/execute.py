"""The execution worker: one per bot instance. It claims approved requests (with a lease, renewed by a
heartbeat while the action runs), runs them through the engine (services.actions.engine.run_claimed,
the same one the command line uses), which records each result, and brings the
thread up to date: the incident card in place as each action lands, the temporary password to the
requester's 1:1 chat only, and the summary in the thread when a batch has nothing left to run.

Exactly once rests on `approvals.claim`: a request is handed to one worker at a time, across
instances too. A confirm or an approval kicks the worker so nothing waits for the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from typing import Any

from cards import summary_card
from dialogs.flows.background import Background
from dialogs.flows.deps import FlowDeps, person
from dialogs.flows.render import current_card, target_of, to_view
from dialogs.router import PrivateMessage, Reply, UpdateCard
from services import approvals
from services.actions import engine
from services.store import dedupe
from services.store import incidents as incident_repo
from services.store import requests as request_repo
from services.store.db import new_id
from services.store.records import PENDING_STATES, ActionRequest, Incident, RequestState
from services.summary.build import build_summary
from services.vocabulary import ActionResult, Actor

log = logging.getLogger("contain.worker")

_RAN = {RequestState.SUCCEEDED, RequestState.FAILED, RequestState.SKIPPED, RequestState.PARTIAL}
_CARD_PASSES = 3  # posts per update when the state moved elsewhere meanwhile (another instance's actions)


class Worker:
    def __init__(self, deps: FlowDeps, *, worker_id: str | None = None, lease_s: float = 60.0,
                 poll_s: float = 5.0, batch_limit: int = 20) -> None:
        self.deps = deps
        self.worker_id = worker_id or f"bot-{os.getpid()}-{new_id('w', 6)}"
        self.lease_s, self.poll_s, self.batch_limit = lease_s, poll_s, batch_limit
        self._wake = asyncio.Event()
        self._background = Background("contain-worker")
        self._card_updating: set[str] = set()  # incidents whose card an update is rendering and posting now
        self._card_dirty: set[str] = set()  # ... and that changed since that update read the store
        self._round = asyncio.Lock()
        self._dirty: dict[str, None] = {}  # batches run since the last round that claimed nothing

    # -- lifecycle ----------------------------------------------------------------------------------
    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._background.start(self._loop)

    async def stop(self) -> None:
        await self._background.stop()

    async def _loop(self) -> None:
        while True:
            try:
                while await self.run_once():
                    pass  # a run can unblock more (unblock_sender after its dependencies)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the execution worker's round failed; it retries on the next poll")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
            self._wake.clear()

    # -- one round ----------------------------------------------------------------------------------
    async def run_once(self) -> int:
        """Claim what is runnable and run it; returns how many requests ran. Rounds of one worker never
        overlap (the background loop and a caller share it); other instances run theirs concurrently."""
        async with self._round:
            return await self._round_once()

    async def _round_once(self) -> int:
        claimed = await approvals.claim(self.deps.store, worker_id=self.worker_id, lease_s=self.lease_s,
                                        limit=self.batch_limit)
        if not claimed:
            await self._flush()
            return 0
        self._dirty.update(dict.fromkeys(r.batch_id for r in claimed))
        beats = [asyncio.get_running_loop().create_task(self._heartbeat(req.id)) for req in claimed]
        try:
            await engine.run_claimed(claimed, tenant=self.deps.tenant, writer=self.deps.writer, store=self.deps.store,
                                     worker_id=self.worker_id, on_finished=self._finished,
                                     verify_wait_s=self.deps.verify_wait_s)
        finally:
            for beat in beats:
                beat.cancel()
        return len(claimed)

    async def _flush(self) -> None:
        """Once a round claims nothing, the batches touched since are as far as they go for now: the claim
        itself may have refused some (unblock_sender without its preconditions), so bring their cards up to
        date and post the summary of any batch that ended."""
        dirty, self._dirty = list(self._dirty), {}

        async def bring_up_to_date(batch_id: str) -> None:
            reqs = await request_repo.for_batch(self.deps.store, batch_id=batch_id)
            incident = await incident_repo.get(self.deps.store, incident_id=reqs[0].incident_id) if reqs else None
            if incident is not None:
                await self.update_card(incident)
            await self.summary_if_done(batch_id)

        # Concurrently: a summary waits on the audit-log query, and one batch's wait must not hold up the rest.
        await asyncio.gather(*(bring_up_to_date(b) for b in dirty))

    async def _finished(self, req: ActionRequest, result: ActionResult) -> None:
        """One request's result is committed: the card in place, the password 1:1, the batch's summary."""
        incident = await incident_repo.get(self.deps.store, incident_id=req.incident_id)
        if incident is None:
            return
        await self.update_card(incident)
        if result.temporary_password is not None:
            await self._deliver_password(incident, req, result)
        # The batch may have ended with this action: its summary now, not after the next empty round (the
        # dedupe key in summary_if_done keeps it to one post when several of its actions end together).
        await self.summary_if_done(req.batch_id)

    async def _heartbeat(self, request_id: str) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            if not await approvals.heartbeat(self.deps.store, request_id=request_id, worker_id=self.worker_id,
                                             lease_s=self.lease_s):
                return

    # -- talking to the thread ------------------------------------------------------------------------
    async def update_card(self, incident: Incident) -> None:
        """Re-render the incident's thread card from the store and replace it in place.

        One updater per incident in this instance: a call that arrives while one runs marks the card dirty
        and returns, and the running one renders once more when its post is done, so actions finishing
        together cost one or two posts rather than one (or more) each."""
        if not incident.conversation_ref or not incident.card_activity_id:
            return
        if incident.id in self._card_updating:
            self._card_dirty.add(incident.id)
            return
        self._card_updating.add(incident.id)
        try:
            await self._render_until_current(incident)
        finally:
            self._card_updating.discard(incident.id)
            self._card_dirty.discard(incident.id)

    async def _render_until_current(self, incident: Incident) -> None:
        assert incident.conversation_ref is not None
        stale_passes = 0
        while True:
            self._card_dirty.discard(incident.id)
            fresh = await incident_repo.get(self.deps.store, incident_id=incident.id) or incident
            seen = await _card_state(self.deps, fresh)
            card = await current_card(self.deps.card_ctx(), self.deps.store, fresh)
            try:
                await self.deps.post_to(incident.conversation_ref).post(
                    UpdateCard(card, activity_id=incident.card_activity_id))
            except Exception:
                log.warning("could not update the card of incident %s", incident.id, exc_info=True)
                return
            if incident.id in self._card_dirty:
                continue  # something here changed while this was posting: render once more
            # Another instance may post an older rendering after ours arrives: whoever posted reads the store
            # again afterwards and posts once more if the state moved, so the last update is always current.
            after = await incident_repo.get(self.deps.store, incident_id=incident.id) or fresh
            stale_passes += 1
            if stale_passes >= _CARD_PASSES or await _card_state(self.deps, after) == seen:
                return

    async def _deliver_password(self, incident: Incident, req: ActionRequest, result: ActionResult) -> None:
        """The temporary password goes to the requester's 1:1 chat and nowhere else (not the log either)."""
        requester = await person(self.deps, Actor(req.requested_by_id, req.requested_by_name))
        poster = self.deps.post_to(incident.conversation_ref) if incident.conversation_ref else None
        if requester is None or poster is None:
            log.warning("no 1:1 chat for the requester of %s; the temporary password was not delivered", req.id)
            if poster is not None:
                await poster.post(Reply(text=f"Contain could not open a 1:1 chat with {req.requested_by_name} to "
                                             "deliver the temporary password; reset it again from a 1:1 chat."))
            return
        text = (f"Temporary password for {incident.target_upn}: {result.temporary_password}\n\n"
                "It must be changed at next sign-in. Give it to the user over a trusted channel; "
                "Contain does not keep it.")
        try:
            await poster.post(PrivateMessage(user=requester, text=text))
        except Exception as exc:  # never log the message itself
            log.warning("could not deliver the temporary password for %s (%s)", req.id, type(exc).__name__)

    async def summary_if_done(self, batch_id: str) -> None:
        """Post the summary in the thread once a batch has nothing left to run (once per batch)."""
        reqs = await request_repo.for_batch(self.deps.store, batch_id=batch_id)
        if not reqs or any(r.state in PENDING_STATES for r in reqs) or not any(r.state in _RAN for r in reqs):
            return
        incident = await incident_repo.get(self.deps.store, incident_id=reqs[0].incident_id)
        if incident is None or not incident.conversation_ref:
            return
        if await dedupe.seen_activity(self.deps.store, activity_id=f"summary:{batch_id}"):
            return
        await post_summary(self.deps, incident)


async def _card_state(deps: FlowDeps, incident: Incident) -> tuple[Any, ...]:
    """What the card is rendered from: the incident's status and each request's state."""
    reqs = await request_repo.for_incident(deps.store, incident_id=incident.id)
    return (incident.status, incident.closed_at,
            tuple((r.id, r.state, r.attempts, r.finished_at, r.decided_at) for r in reqs))


async def post_summary(deps: FlowDeps, incident: Incident, *, requests: Sequence[ActionRequest] | None = None) -> None:
    """Actions and actors, mailbox audit, the account's audit events and Secure Score, as a thread reply."""
    if not incident.conversation_ref:
        return
    summary = await build_summary(tenant=deps.tenant, store=deps.store, incident=incident,
                                  audit_wait_s=deps.summary_audit_wait_s)
    card = summary_card(deps.card_ctx(), target=target_of(incident), data=to_view(summary))
    await deps.post_to(incident.conversation_ref).post(Reply(card=card))
