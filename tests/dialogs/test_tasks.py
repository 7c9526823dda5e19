"""dialogs.tasks: the one registry that starts and stops every background task of the bot."""

from __future__ import annotations

import pytest

from dialogs.tasks import Tasks


async def test_tasks_start_in_order_and_stop_in_reverse() -> None:
    said: list[str] = []
    tasks = Tasks()
    for name in ("recovery", "worker", "timers"):
        tasks.add(name, start=lambda n=name: said.append(f"start {n}"),
                  stop=lambda n=name: said.append(f"stop {n}"))
    await tasks.start()
    assert tasks.running == ["recovery", "worker", "timers"]
    await tasks.stop()
    assert said == ["start recovery", "start worker", "start timers", "stop timers", "stop worker", "stop recovery"]
    assert tasks.running == []


async def test_a_stop_that_fails_does_not_keep_the_others_running() -> None:
    stopped: list[str] = []
    tasks = Tasks()

    async def broken() -> None:
        raise RuntimeError("stuck")

    tasks.add("first", stop=lambda: stopped.append("first"))
    tasks.add("broken", stop=broken)
    tasks.add("last", stop=lambda: stopped.append("last"))
    await tasks.start()
    await tasks.stop()
    assert stopped == ["last", "first"]


async def test_a_start_that_fails_stops_what_had_started() -> None:
    stopped: list[str] = []
    tasks = Tasks()

    def refuse() -> None:
        raise ValueError("no")

    tasks.add("worker", stop=lambda: stopped.append("worker"))
    tasks.add("pollers", start=refuse)
    with pytest.raises(ValueError):
        await tasks.start()
    assert stopped == ["worker"] and tasks.running == []


def test_a_name_is_registered_once() -> None:
    tasks = Tasks()
    tasks.add("worker")
    with pytest.raises(ValueError):
        tasks.add("worker")
