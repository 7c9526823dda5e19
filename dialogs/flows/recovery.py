"""Start-up recovery: what an instance does before its worker claims anything.

1. It takes a stable instance name kept under CONTAIN_HOME and holds an exclusive lock on it for its
   lifetime. A request still leased to an earlier process of the same name is a request that process
   was running when it died (the lock proves no live process holds the name), so its lease is ended
   now rather than waited out. A second process sharing the home cannot take the lock and runs under
   a one-off name, so it never cuts short a live instance's lease.
2. It reports in each incident's thread the requests that were in flight when an instance stopped
   (services.approvals.in_flight_after_crash), resumes them through the worker (which reads the
   account first, so a write that landed is not sent again), and once they are done reports how each
   ended and whether the read-back verified it.

Each stopped request is announced by one instance only, however many start at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from dialogs.flows.deps import FlowDeps
from dialogs.router import Reply
from services import approvals
from services.store import dedupe
from services.store import incidents as incident_repo
from services.store import requests as request_repo
from services.store.db import new_id, utcnow
from services.store.records import PENDING_STATES, ActionRequest, IncidentStatus, RequestState

log = logging.getLogger("contain.recovery")

_NAME_FILE, _LOCK_FILE = "instance", "instance.lock"


def _title(action: str) -> str:
    return action.replace("_", " ").capitalize()


class InstanceName:
    """This process's instance name and the lock that proves it is the only live holder."""

    def __init__(self, name: str, lock: IO[str] | None) -> None:
        self.name, self._lock = name, lock

    @property
    def durable(self) -> bool:
        return self._lock is not None

    @classmethod
    def take(cls, home: Path) -> InstanceName:
        try:
            home.mkdir(parents=True, exist_ok=True)
            lock = (home / _LOCK_FILE).open("a+")
        except OSError:
            return cls(f"once-{secrets.token_hex(4)}", None)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released by the kernel if we are killed
        except OSError:
            lock.close()
            return cls(f"once-{secrets.token_hex(4)}", None)  # another live process owns this home's name
        path = home / _NAME_FILE
        try:
            name = path.read_text().strip()
        except OSError:
            name = ""
        if not name or "/" in name or len(name) > 40:
            name = f"inst-{secrets.token_hex(4)}"
            path.write_text(name + "\n")
        return cls(name, lock)

    def worker_id(self) -> str:
        return f"{self.name}/{os.getpid()}-{new_id('w', 6)}"

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


async def end_predecessor_leases(deps: FlowDeps, *, instance: InstanceName, worker_id: str) -> list[ActionRequest]:
    """End the leases an earlier process of this instance held when it died; returns those requests."""
    if not instance.durable:
        return []
    now = utcnow()
    prefix = instance.name + "/"
    ended: list[ActionRequest] = []
    for req in await request_repo.in_states(deps.store, states=[RequestState.RUNNING], limit=5000):
        owner = req.lease_owner or ""
        if not owner.startswith(prefix) or owner == worker_id:
            continue
        if await request_repo.end_lease(deps.store, request_id=req.id, owner=owner, now=now):
            ended.append(req)
    return ended


async def announce(deps: FlowDeps, stuck: Sequence[ActionRequest]) -> dict[str, list[ActionRequest]]:
    """Tell each thread which of its actions were in flight when an instance stopped (once per stop)."""
    mine: dict[str, list[ActionRequest]] = defaultdict(list)
    for req in stuck:
        if not await dedupe.seen_activity(deps.store, activity_id=f"recovery:{req.id}:{req.attempts}"):
            mine[req.incident_id].append(req)
    for incident_id, reqs in mine.items():
        incident = await incident_repo.get(deps.store, incident_id=incident_id)
        if incident is None or not incident.conversation_ref:
            continue
        names = ", ".join(_title(r.action) for r in reqs)
        text = (f"An instance of Contain stopped while {'this action was' if len(reqs) == 1 else 'these actions were'}"
                f" running for {incident.target_upn}: {names}. Contain is resuming "
                f"{'it' if len(reqs) == 1 else 'them'}, reading the account's state first so nothing is applied "
                "twice.")
        await _say(deps, incident.conversation_ref, text)
    return mine


async def report_outcomes(deps: FlowDeps, announced: dict[str, list[ActionRequest]], *,
                          timeout_s: float, poll_s: float = 0.5) -> None:
    """Once the announced requests have finished (on any instance), say how each ended, verified or not."""
    waiting = {r.id for reqs in announced.values() for r in reqs}
    done: dict[str, ActionRequest] = {}
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while waiting - done.keys():
                for request_id in waiting - done.keys():
                    req = await request_repo.get(deps.store, request_id=request_id)
                    if req is None or req.state not in PENDING_STATES:
                        done[request_id] = req  # type: ignore[assignment]
                if waiting - done.keys():
                    await asyncio.sleep(poll_s)
    for incident_id, reqs in announced.items():
        incident = await incident_repo.get(deps.store, incident_id=incident_id)
        if incident is None or not incident.conversation_ref:
            continue
        parts = []
        for req in reqs:
            final = done.get(req.id)
            if final is None:
                parts.append(f"{_title(req.action)} is still running")
                continue
            result = final.result or {}
            parts.append(f"{_title(req.action)} {final.state.value}; verified: "
                         f"{'yes' if result.get('verified') else 'no'}")
        await _say(deps, incident.conversation_ref,
                   "Resumed after an instance stopped: " + "; ".join(parts) + ".")


async def _say(deps: FlowDeps, reference: dict[str, Any], text: str) -> None:
    try:
        await deps.post_to(reference).post(Reply(text=text))
    except Exception:
        log.warning("could not post the recovery report in a thread", exc_info=True)


REFRESH_LIMIT = 200


async def refresh_cards(deps: FlowDeps, worker: Any) -> int:
    """Redraw the thread card of every unclosed incident that has requests. An instance that died after
    recording a result but before posting the card leaves the card behind the store; redrawing from the
    store (idempotent: the same card replaces itself) brings every thread back to the truth."""
    refreshed = 0
    for status in (IncidentStatus.OPEN, IncidentStatus.CONTAINED):
        for incident in await incident_repo.list_incidents(deps.store, status=status, limit=REFRESH_LIMIT):
            if not incident.card_activity_id or not await request_repo.for_incident(deps.store,
                                                                                    incident_id=incident.id):
                continue
            try:
                await worker.update_card(incident)
                refreshed += 1
            except Exception:
                log.warning("could not redraw the card of incident %s at start", incident.id, exc_info=True)
    return refreshed


class Recovery:
    """Started before the worker (dialogs.wiring registers it): names the worker, ends dead predecessors'
    leases, reports."""

    def __init__(self, flows: Any, *, home: Path, report_timeout_s: float | None = None) -> None:
        self.flows = flows
        self.instance = InstanceName.take(home)
        self.report_timeout_s = report_timeout_s
        self._task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        """Name the worker (synchronously, before it claims anything) and start the report in the background."""
        self.flows.worker.worker_id = self.instance.worker_id()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="contain-recovery")

    async def _run(self) -> None:
        deps: FlowDeps = self.flows.deps
        worker = self.flows.worker
        try:
            ended = await end_predecessor_leases(deps, instance=self.instance, worker_id=worker.worker_id)
            if ended:
                log.warning("resuming %d action(s) this instance was running when it stopped", len(ended))
            announced = await announce(deps, await approvals.in_flight_after_crash(deps.store))
            await refresh_cards(deps, worker)
            if not announced:
                return
            worker.kick()
            timeout = self.report_timeout_s if self.report_timeout_s is not None else worker.lease_s * 3
            await report_outcomes(deps, announced, timeout_s=timeout)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the start-up recovery report failed; the worker still resumes what was in flight")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.instance.release()
