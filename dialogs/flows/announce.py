"""Announcements the command line left in the store (services.store.announcements), posted into their
incident's thread by the bot's timers, with the incident card brought up to date: a `contain` process has
no Bot Framework connection of its own, so a break-glass run, a request waiting for a second responder or
a decision taken at the terminal reaches the thread this way, within one timer round.
"""

from __future__ import annotations

import logging
from typing import Any

from dialogs.flows.deps import FlowDeps
from dialogs.router import Reply
from services.store import announcements
from services.store import incidents as incident_repo

log = logging.getLogger("contain.timers")


async def drain(deps: FlowDeps, worker: Any) -> int:
    """Post what is waiting; returns how many were posted. Each is taken by one instance only."""
    posted = 0
    for item in await announcements.undelivered(deps.store):
        if not await announcements.claim(deps.store, item_id=item.id):
            continue
        incident = await incident_repo.get(deps.store, incident_id=item.incident_id)
        if incident is None or not incident.conversation_ref:
            await announcements.done(deps.store, item_id=item.id, outcome="no_thread")
            continue
        try:
            await deps.post_to(incident.conversation_ref).post(Reply(text=item.text))
        except Exception as exc:
            log.warning("could not post a command-line announcement for %s (%s)", incident.id, type(exc).__name__)
            await announcements.failed(deps.store, item_id=item.id)
            continue
        await announcements.done(deps.store, item_id=item.id, outcome="posted")
        posted += 1
        await worker.update_card(incident)
    return posted
