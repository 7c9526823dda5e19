"""One background task owned by a flow component (the worker's loop, the timers): started once with the
app, cancelled and awaited on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any


class Background:
    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None

    def start(self, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start `loop()` unless it already runs."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(loop(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task and wait for it to end."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
