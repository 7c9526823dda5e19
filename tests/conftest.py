"""Shared fixtures: a sandbox tenant on loopback and a Runtime built by the real composition root.

Every test gets its own CONTAIN_HOME under tmp_path, so sandbox state and the store never leak
between tests.

Tiers: every test gets its markers here, from where it lives and which fixtures it uses, so a new
test lands in the right tier without anyone remembering to mark it.

- unit: no Runtime (a function, a card, a sandbox route, a store on SQLite).
- scenario: the real composition root (the `runtime`, `bot`, `channel_bot`, `crowd_runtime` or
  `pair` fixtures, or FlowBot): a conversation or an alert end to end, in process.
- postgres: needs PostgreSQL on 127.0.0.1:5432 (the `pg_database_url` fixture, or the store's
  "postgres" backend parameter).
- e2e: outside processes: tests/e2e (the Playground on node, the demo launcher, chromium).
- slow: e2e, postgres, and the tests that take seconds or race the clock by design (SLOW below:
  bursts, Retry-After waits, restarts, subprocesses, the whole-scenario conformance run).

`make check` runs `not slow` (unit and scenario) on four pytest-xdist workers; `make test` runs
everything, one test at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path

import pytest

from services.runtime import Runtime
from services.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "tests" / "schemas"  # vendored copies, see tests/schemas/README.md


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Sandbox-mode settings with a private home."""
    return load_settings({"CONTAIN_HOME": str(tmp_path / "home")})


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The real composition root: in-process sandbox, MSAL, msgraph-sdk, the Exchange client, the store."""
    from bot import build_runtime

    async with build_runtime(settings) as rt:
        yield rt



TESTS = REPO / "tests"
# Fixtures that build the whole runtime (composition root, sandbox tenant, store) or more.
SCENARIO_FIXTURES = {"runtime", "bot", "channel_bot", "crowd_runtime", "pair", "fabrikam", "stack", "traffic"}
# Tests that take seconds by design: a folder ("e2e/"), a file, or a file and a test-name prefix.
# Timing-sensitive tests are here too: they run in `make test`, one at a time, not beside three others.
SLOW = (
    "e2e/",  # the Playground on node, the demo launcher
    "conformance/",  # one whole scenario against the sandbox, every request checked
    "scenarios/instances/",  # two bot instances on one PostgreSQL database
    "dialogs/test_startup.py::test_no_app_id",  # a Python subprocess importing the whole app
    "scenarios/threads/test_end_to_end.py",  # an alert to a closed thread, every step over HTTP
    "scenarios/threads/test_volume_http.py",  # a burst of alerts over HTTP
    "services/alerts/test_volume.py",  # a burst of alerts
    "services/alerts/test_webhook_intake.py::test_fifty_concurrent",  # a burst of deliveries
    "services/actions/test_engine.py::test_twenty_percent_faults",  # retries through injected faults
    "dialogs/flows/test_teams_limits.py",  # waits out Retry-After and Teams' pacing
    "dialogs/flows/test_approve_while_running.py",  # a race with a running batch
    "services/test_doctor.py::test_sandbox_passes_every_check",  # every check within its time budget
    "services/alerts/test_pollers.py::test_the_cursor_survives_a_restart",  # a poller stopped and started again
    "scenarios/threads/test_pollers_and_channel.py::test_a_sandbox_alert_becomes_a_thread_and_a_restarted_poller",
)


@cache
def _builds_runtime(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    return "FlowBot" in text or "build_runtime(" in text


def _tier_markers(item: pytest.Item, matched: set[str]) -> list[str]:
    rel = item.path.relative_to(TESTS).as_posix()
    name = item.nodeid.partition("::")[2]
    fixtures = set(getattr(item, "fixturenames", ()))
    marks = ["scenario" if fixtures & SCENARIO_FIXTURES or _builds_runtime(item.path) else "unit"]
    if rel.startswith("e2e/") or "stack" in fixtures:
        marks.append("e2e")
    if "pg_database_url" in fixtures or item.get_closest_marker("postgres") is not None:
        marks.append("postgres")
    slow = {s for s in SLOW if (rel.startswith(s) if "::" not in s else f"{rel}::{name}".startswith(s))}
    matched |= slow
    if slow or {"e2e", "postgres"} & set(marks):
        marks.append("slow")
    return marks


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    matched: set[str] = set()
    for item in items:
        for mark in _tier_markers(item, matched):
            if item.get_closest_marker(mark) is None:
                item.add_marker(mark)
    whole_suite = all(Path(arg).resolve() == TESTS for arg in config.args)
    if whole_suite and (stale := sorted(set(SLOW) - matched)):
        raise pytest.UsageError(f"SLOW in tests/conftest.py names tests that no longer exist: {', '.join(stale)}.")
