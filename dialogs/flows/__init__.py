"""Contain's conversation flows: one small module per command or card verb, wired to the router here.

    flows = install(router, deps)      # dialogs.wiring
    flows.start() / await flows.stop() # with the aiohttp app: the execution worker and the timers

investigate   /compromised <who>, contain.choose, contain.new_incident
confirm       contain.confirm, contain.run
approve       contain.approve, contain.reject, contain.undo, contain.override_unblock
execute       the worker: claimed requests → engine → card in place, password 1:1, summary
lifecycle     expiry and reminders, contain.close, contain.refresh
accept        contain.accept: accept an open finding with a reason
status/score/help   the read-only commands
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.flows import accept, approve, confirm, help, investigate, lifecycle, score, status
from dialogs.flows.deps import FlowDeps
from dialogs.flows.execute import Worker
from dialogs.flows.lifecycle import Timers
from dialogs.router import Handler, Outcome, Router, Turn
from services.store import dedupe

__all__ = ["FlowDeps", "Flows", "Timers", "Worker", "install"]


@dataclass
class Flows:
    deps: FlowDeps
    worker: Worker
    timers: Timers

    def start(self) -> None:
        self.worker.start()
        self.timers.start()

    async def stop(self) -> None:
        await self.timers.stop()
        await self.worker.stop()


def _recorded_when_handled(deps: FlowDeps, handler: Handler) -> Handler:
    async def handled(turn: Turn) -> Outcome:
        outcome = await handler(turn)
        if turn.activity_id:  # the decision is stored: a redelivery of this click is a replay from now on
            await dedupe.seen_activity(deps.store, activity_id=f"invoke:{turn.activity_id}")
        return outcome

    return handled


def install(router: Router, deps: FlowDeps, *, worker: Worker | None = None, timer_interval_s: float = 5.0) -> Flows:
    """Register every flow on `router` and build (not start) the worker and the timers."""
    worker = worker or Worker(deps)
    deps.kick = worker.kick
    for module in (investigate, confirm, approve, accept, lifecycle, status, score, help):
        module.register(router, deps)
    router.wrap_verbs(lambda handler: _recorded_when_handled(deps, handler))
    return Flows(deps=deps, worker=worker, timers=Timers(deps, worker, interval_s=timer_interval_s))
