"""The one registry that starts and stops every background task of the bot: the execution worker, the
expiry timers, crash recovery, the alert threads, the alert pollers and the turns' deferred work.

Tasks start in the order they were added and stop in the reverse order; a stop that fails is logged
and the others still run, so one broken task never leaves the rest running.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("contain.tasks")

Step = Callable[[], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    start: Step | None
    stop: Step | None


async def _run(step: Step) -> None:
    result = step()
    if result is not None:
        await result


class Tasks:
    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._started: list[_Entry] = []

    def add(self, name: str, *, start: Step | None = None, stop: Step | None = None) -> None:
        """Register a task by its start and stop steps (either may be sync or async, either may be absent)."""
        if any(e.name == name for e in self._entries):
            raise ValueError(f"A task named {name} is already registered.")
        self._entries.append(_Entry(name, start, stop))

    @property
    def names(self) -> list[str]:
        return [e.name for e in self._entries]

    @property
    def running(self) -> list[str]:
        return [e.name for e in self._started]

    async def start(self) -> None:
        """Start every task not yet started, in order. A start that fails stops those already started."""
        for entry in self._entries:
            if entry in self._started:
                continue
            if entry.start is not None:
                try:
                    await _run(entry.start)
                except BaseException:
                    await self.stop()
                    raise
            self._started.append(entry)

    async def stop(self) -> None:
        """Stop every started task, last started first."""
        while self._started:
            entry = self._started.pop()
            if entry.stop is None:
                continue
            try:
                await _run(entry.stop)
            except Exception:
                log.exception("background task %s did not stop cleanly", entry.name)
