"""`contain remediate` and `contain score` through their handlers on the real runtime, and the temporary
password's one appearance: once on stdout, and in no file, log record, database row or write-log entry.

The command line acts as the responder signed in with `contain login` (tests/dialogs/terminal has the policy tests);
high-impact actions run here under --break-glass, which is how one responder runs them alone."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dialogs.terminal.cli import parser as _parser
from services.actions import passwords
from services.store.schema import ALL_TABLES
from tests.dialogs.terminal.conftest import DAVE, login
from tests.services.actions.helpers import ALICE

GLASS = ("--break-glass", "--reason", "Test run of every action")


@pytest.fixture(autouse=True)
async def dave_signed_in(runtime: Any) -> None:
    runtime.sandbox.authority.device_codes.interval_s = 1
    assert await login(runtime, DAVE) == 0


def _args(*argv: str) -> Any:
    return _parser().parse_args(list(argv))


async def _run_cli(runtime: Any, *argv: str) -> int:
    args = _args(*argv)
    return int(await args.handler(args, runtime))


async def _database_text(runtime: Any) -> str:
    chunks = []
    async with runtime.store.read() as conn:
        for table in ALL_TABLES:
            for row in (await conn.execute(sa.select(table))).mappings().all():
                chunks.append(json.dumps(dict(row), default=str))
    return "\n".join(chunks)


async def test_the_temporary_password_appears_once_on_stdout_and_nowhere_else(
        runtime: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    code = await _run_cli(runtime, "remediate", "alice", "--action", "reset_password,revoke_sessions", "--yes",
                          "--json", *GLASS)

    out = capsys.readouterr().out
    assert code == 0
    body = json.loads(out)
    by_action = {r["action"]: r for r in body["results"]}
    password = by_action["reset_password"]["temporary_password"]
    assert passwords.is_strong(password)
    assert by_action["reset_password"]["status"] == "succeeded" and by_action["reset_password"]["verified"]
    assert "temporary_password" not in by_action["revoke_sessions"]
    assert out.count(password) == 1
    home: Path = runtime.settings.home
    holders = [p for p in home.rglob("*") if p.is_file() and password.encode() in p.read_bytes()]  # noqa: ASYNC240
    assert holders == [], f"the password is in {holders}"
    assert not [r for r in caplog.records if password in r.getMessage()]
    assert password not in await _database_text(runtime)
    assert password not in json.dumps([w.to_json() for w in runtime.sandbox.write_log])


async def test_text_output_prints_one_line_per_action_and_the_password_once(
        runtime: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = await _run_cli(runtime, "remediate", ALICE, "--action", "reset_password", "-a", "block_signin", "--yes",
                          *GLASS)
    out = capsys.readouterr().out
    assert code == 0
    assert "reset_password" in out and "block_signin" in out
    [line] = [ln for ln in out.splitlines() if ln.startswith("Temporary password")]
    password = line.rsplit(": ", 1)[1]
    assert out.count(password) == 1


async def test_unblock_sender_across_invocations(runtime: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _run_cli(runtime, "remediate", "alice", "-a", "unblock_sender", "--yes", "--json", *GLASS) == 5
    refused = json.loads(capsys.readouterr().out)["results"][0]
    assert refused["status"] == "refused" and "the password has not been reset" in refused["detail"]
    assert await _run_cli(runtime, "remediate", "alice", "-a", "reset_password,revoke_sessions", "--yes",
                          "--json", *GLASS) == 0
    first = json.loads(capsys.readouterr().out)
    assert await _run_cli(runtime, "remediate", "alice", "-a", "unblock_sender", "--yes", "--json", *GLASS) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["incident"] == first["incident"], "the same open incident is reused"
    assert second["results"][0]["status"] == "succeeded"


async def test_without_yes_each_action_is_asked_and_no_declines(
        runtime: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["y", "n"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    code = await _run_cli(runtime, "remediate", "alice", "-a", "block_signin,enable_mailbox_audit", "--json",
                          *GLASS)
    results = json.loads(capsys.readouterr().out)["results"]
    assert code == 0
    assert [r["action"] for r in results] == ["block_signin"]
    assert runtime.sandbox.state.find_user(ALICE)["accountEnabled"] is False
    mailbox = runtime.sandbox.state.mailbox(runtime.sandbox.state.find_user(ALICE)["id"])
    assert mailbox["auditEnabled"] is False


async def test_unknown_action_and_unknown_person(runtime: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _run_cli(runtime, "remediate", "alice", "-a", "format_disk", "--yes") == 2
    assert "unknown action 'format_disk'" in capsys.readouterr().err
    assert await _run_cli(runtime, "remediate", "nobody-here-at-all", "-a", "block_signin", "--yes") == 4


async def test_recommended_runs_the_investigations_actions(runtime: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = await _run_cli(runtime, "remediate", "alice", "--action", "recommended", "--yes", "--json", *GLASS)
    results = json.loads(capsys.readouterr().out)["results"]
    assert code == 0, results
    assert {r["action"] for r in results} >= {"reset_password", "disable_inbox_rules", "unblock_sender"}


async def test_score_json(runtime: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _run_cli(runtime, "score", "--json") == 0
    score = json.loads(capsys.readouterr().out)
    assert score["max"] > 0 and 0 <= score["percent"] <= 100
    assert {c["topic"] for c in score["controls"]} >= {"mfa", "legacy_auth", "mailbox_audit"}


def test_passwords_are_strong_and_different() -> None:
    made = {passwords.generate() for _ in range(200)}
    assert len(made) == 200
    assert all(passwords.is_strong(p) and len(p) == passwords.DEFAULT_LENGTH for p in made)
    assert not any(c in p for p in made for c in "0O1lI'\"\\ ")
    assert not passwords.is_strong("aaaBBB123!!!xyzQRS")  # a character three times in a row
    assert not passwords.is_strong("abcdefghijkmnpqrst")  # one class only
    with pytest.raises(ValueError):
        passwords.generate(8)
