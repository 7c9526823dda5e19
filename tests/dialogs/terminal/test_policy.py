"""The command line follows the approval policy (issue 12, item 4): the actor is the signed-in responder,
standard actions run once confirmed, high-impact ones wait for a second, different responder (or run under
an audited, announced break-glass with a reason), and someone who is not a responder cannot act by any path.
Every sign-in here is MSAL's device code flow against the sandbox's identity platform."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.store import audit
from services.store import requests as request_repo
from services.store.db import utcnow
from services.store.records import RequestState
from services.store.schema import action_requests, cli_outbox
from tests.dialogs.terminal.conftest import BOB, CAROL, DAVE, ERIN, cli, login

CAROL_ID = "ca201a5e-3d5e-4f70-9b2c-8d0e1f3a5b73"


def _roles(runtime: Any) -> list[str]:
    return [r["displayName"] for r in runtime.sandbox.state.data["directoryRoles"] if CAROL_ID in r.get("members", [])]


async def _announced(runtime: Any) -> list[str]:
    async with runtime.store.read() as conn:
        return [r.text for r in (await conn.execute(sa.select(cli_outbox).order_by(cli_outbox.c.id))).all()]


async def _waiting_batch(runtime: Any, capsys: pytest.CaptureFixture[str]) -> str:
    assert await login(runtime, DAVE) == 0
    capsys.readouterr()
    code = await cli(runtime, "remediate", CAROL, "--action", "remove_admin_roles", "--yes", "--json")
    body = json.loads(capsys.readouterr().out)
    assert code == 6, body
    [waiting] = body["waiting"]
    return str(waiting["batch"])


async def test_a_high_impact_action_by_one_responder_waits_and_another_responder_approves_it(
        fast_polling: Any, capsys: pytest.CaptureFixture[str]) -> None:
    runtime = fast_polling
    assert await login(runtime, DAVE) == 0
    capsys.readouterr()
    code = await cli(runtime, "remediate", CAROL, "--action", "remove_admin_roles", "--yes")
    out = capsys.readouterr().out
    assert code == 6
    assert "remove_admin_roles waits for a second responder" in out and "contain approve bat_" in out
    assert _roles(runtime) == ["Global Administrator"], "nothing ran"
    [pending] = [r for r in await request_repo.in_states(runtime.store, states=[RequestState.AWAITING_APPROVAL])]
    assert (pending.requested_by_id, pending.requested_by_name) == ("da7e6b1c-4e6f-4081-ac3d-9e1f2a4b6c84",
                                                                    "Dave Patel")
    assert any("waits for a second responder" in t and pending.batch_id in t for t in await _announced(runtime))

    # The same person cannot approve their own request.
    assert await cli(runtime, "approve", pending.batch_id) == 5
    assert "a different responder must approve it" in capsys.readouterr().err
    assert _roles(runtime) == ["Global Administrator"]

    # Another responder signs in on this machine and approves: it runs, verified.
    assert await cli(runtime, "logout") == 0
    assert await login(runtime, ERIN) == 0
    capsys.readouterr()
    assert await cli(runtime, "approve", pending.batch_id) == 0
    out = capsys.readouterr().out
    assert "✓ remove_admin_roles" in out and "(verified)" in out
    assert _roles(runtime) == []
    done = await request_repo.get(runtime.store, request_id=pending.id)
    assert done is not None and done.state is RequestState.SUCCEEDED and done.decided_by_name == "Erin Novak"
    events = [(e.event, e.actor_name) for e in await audit.recent(runtime.store, limit=200)]
    assert ("request.approved", "Erin Novak") in events and ("action.remove_admin_roles", "Dave Patel") in events


async def test_break_glass_needs_a_reason_and_is_audited_and_announced(
        fast_polling: Any, capsys: pytest.CaptureFixture[str]) -> None:
    runtime = fast_polling
    assert await login(runtime, DAVE) == 0
    writes = len(runtime.sandbox.write_log)
    assert await cli(runtime, "remediate", CAROL, "-a", "remove_admin_roles", "--yes", "--break-glass") == 5
    assert "--break-glass needs --reason" in capsys.readouterr().err
    assert await cli(runtime, "remediate", CAROL, "-a", "remove_admin_roles", "--yes", "--break-glass",
                     "--reason", "   ") == 5
    assert len(runtime.sandbox.write_log) == writes and _roles(runtime) == ["Global Administrator"]
    assert await request_repo.in_states(runtime.store, states=[RequestState.AWAITING_APPROVAL]) == []

    capsys.readouterr()
    assert await cli(runtime, "remediate", CAROL, "-a", "remove_admin_roles", "--yes", "--break-glass",
                     "--reason", "Carol's account is sending payroll changes right now") == 0
    captured = capsys.readouterr()
    assert "Break-glass" in captured.err and "✓ remove_admin_roles" in captured.out
    assert _roles(runtime) == []
    [glass] = [e for e in await audit.recent(runtime.store, limit=200) if e.event == "request.break_glass"]
    assert glass.actor_name == "Dave Patel" and glass.outcome == "break_glass"
    assert "payroll changes" in glass.detail
    announced = await _announced(runtime)
    assert any(t.startswith("Break-glass: Dave Patel ran Remove admin roles on carol@contoso.com") and
               "payroll changes" in t for t in announced)


async def test_a_standard_action_runs_once_confirmed_by_one_responder(
        fast_polling: Any, capsys: pytest.CaptureFixture[str]) -> None:
    runtime = fast_polling
    assert await login(runtime, DAVE) == 0
    capsys.readouterr()
    assert await cli(runtime, "remediate", "alice", "-a", "enable_mailbox_audit", "--yes", "--json") == 0
    body = json.loads(capsys.readouterr().out)
    assert [(r["action"], r["status"], r["verified"]) for r in body["results"]] == [
        ("enable_mailbox_audit", "succeeded", True)]
    [req] = await request_repo.for_batch(runtime.store, batch_id=body["batch"])
    assert req.impact == "standard" and req.requested_by_name == "Dave Patel" == req.decided_by_name


async def test_high_impact_on_a_standard_account_waits_too(fast_polling: Any, capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    runtime = fast_polling
    assert await login(runtime, DAVE) == 0
    capsys.readouterr()
    code = await cli(runtime, "remediate", "alice", "-a", "block_signin,enable_mailbox_audit", "--yes", "--json")
    body = json.loads(capsys.readouterr().out)
    assert code == 6
    assert [r["action"] for r in body["results"]] == ["enable_mailbox_audit"]
    assert [w["action"] for w in body["waiting"]] == ["block_signin"]
    assert body["message"] == "block_signin waits for a second responder."
    assert runtime.sandbox.state.find_user("alice@contoso.com")["accountEnabled"] is True


async def test_someone_who_is_not_a_responder_cannot_act_by_any_path(
        fast_polling: Any, capsys: pytest.CaptureFixture[str]) -> None:
    runtime = fast_polling
    batch = await _waiting_batch(runtime, capsys)
    assert await cli(runtime, "logout") == 0
    assert await login(runtime, BOB) == 0
    writes = len(runtime.sandbox.write_log)
    attempts = [
        ["remediate", "alice", "-a", "enable_mailbox_audit", "--yes"],
        ["remediate", CAROL, "-a", "remove_admin_roles", "--yes", "--break-glass", "--reason", "I insist"],
        ["approve", batch],
        ["reject", batch, "--reason", "no"],
    ]
    for argv in attempts:
        capsys.readouterr()
        assert await cli(runtime, *argv) == 5, argv
        assert "Only members of the responders group" in capsys.readouterr().err
    assert len(runtime.sandbox.write_log) == writes
    refused = [e for e in await audit.recent(runtime.store, limit=200) if e.event == "access.refused"]
    assert len(refused) == len(attempts) and {e.actor_name for e in refused} == {"Bob Martinez"}
    [still] = await request_repo.for_batch(runtime.store, batch_id=batch)
    assert still.state is RequestState.AWAITING_APPROVAL
    # There is no free-text actor any more.
    with pytest.raises(SystemExit):
        await cli(runtime, "remediate", "alice", "-a", "enable_mailbox_audit", "--yes", "--as", "Dave Patel")


async def test_nobody_signed_in_cannot_act(runtime: Any, capsys: pytest.CaptureFixture[str]) -> None:
    writes = len(runtime.sandbox.write_log)
    for argv in (["remediate", "alice", "-a", "enable_mailbox_audit", "--yes"], ["approve", "bat_x"],
                 ["reject", "bat_x", "--reason", "no"]):
        assert await cli(runtime, *argv) == 8, argv
        assert "contain login" in capsys.readouterr().err
    assert len(runtime.sandbox.write_log) == writes


async def test_own_account_is_refused(fast_polling: Any, capsys: pytest.CaptureFixture[str]) -> None:
    runtime = fast_polling
    assert await login(runtime, DAVE) == 0
    capsys.readouterr()
    assert await cli(runtime, "remediate", DAVE, "-a", "revoke_sessions", "--yes") == 5
    assert "your own account" in capsys.readouterr().err


async def test_reject_with_a_reason_and_approving_after_expiry(fast_polling: Any,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    runtime = fast_polling
    batch = await _waiting_batch(runtime, capsys)
    with pytest.raises(SystemExit):
        await cli(runtime, "reject", batch)  # --reason is required
    assert await cli(runtime, "logout") == 0
    assert await login(runtime, ERIN) == 0
    capsys.readouterr()
    assert await cli(runtime, "reject", batch, "--reason", "Carol is travelling; the sign-ins are hers") == 0
    [row] = [e for e in await audit.recent(runtime.store, limit=200) if e.event == "request.rejected"]
    assert row.actor_name == "Erin Novak" and "the sign-ins are hers" in row.detail
    assert _roles(runtime) == ["Global Administrator"]

    # A fresh request from Dave, expired before Erin gets to it.
    assert await cli(runtime, "logout") == 0
    batch = await _waiting_batch(runtime, capsys)
    async with runtime.store.write() as conn:
        await conn.execute(sa.update(action_requests).where(action_requests.c.batch_id == batch)
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
    assert await cli(runtime, "logout") == 0
    assert await login(runtime, ERIN) == 0
    capsys.readouterr()
    assert await cli(runtime, "approve", batch) == 5
    assert "expired" in capsys.readouterr().err
    assert _roles(runtime) == ["Global Administrator"]
