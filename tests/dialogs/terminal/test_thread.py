"""The command line and Teams are one policy: a request made at the terminal shows in the incident's thread
(the CLI leaves it in the store's outbox; the bot's timers post it and refresh the card), and a second
responder approves it there."""

from __future__ import annotations

from typing import Any

import pytest

from services.store import incidents as incident_repo
from tests.dialogs.terminal.conftest import CAROL, DAVE, cli, login
from tests.support.flowbot import THREAD, FlowBot, action
from tests.support.people import DAVE as TEAMS_DAVE
from tests.support.people import ERIN as TEAMS_ERIN

CAROL_ID = "ca201a5e-3d5e-4f70-9b2c-8d0e1f3a5b73"


async def test_a_terminal_request_is_announced_in_the_thread_and_approved_in_teams(
        bot: FlowBot, capsys: pytest.CaptureFixture[str]) -> None:
    await bot.say("/compromised carol", user=TEAMS_DAVE)
    incident = await incident_repo.find_open(bot.store, target_user_id=CAROL_ID)
    assert incident is not None and incident.card_activity_id
    runtime: Any = bot.runtime
    runtime.sandbox.authority.device_codes.interval_s = 1
    assert await login(runtime, DAVE) == 0
    assert await cli(runtime, "remediate", CAROL, "-a", "remove_admin_roles", "--yes") == 6
    capsys.readouterr()

    await bot.flows.timers.tick()
    await bot.settle()
    said = bot.connector.texts(THREAD)
    assert any("Dave Patel" in t and "waits for a second responder" in t for t in said), said
    approve = action(bot.updates()[-1], "contain.approve")

    await bot.click("contain.approve", approve["data"], user=TEAMS_ERIN, card_id=incident.card_activity_id)
    roles = [r for r in runtime.sandbox.state.data["directoryRoles"] if CAROL_ID in r.get("members", [])]
    assert roles == []
    # Drained once: a second round posts nothing more.
    before = len(bot.connector.texts(THREAD))
    await bot.flows.timers.tick()
    assert len(bot.connector.texts(THREAD)) == before
