"""`contain remediate` exit codes beyond the approval policy: a failed action, and a finding it was asked to
address that is still flagged when the account is investigated again (issue 12, item 2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dialogs.terminal import acting
from tests.dialogs.terminal.conftest import DAVE, cli, login


async def test_a_failed_action_exits_1(fast_polling: Any, capsys: pytest.CaptureFixture[str]) -> None:
    runtime = fast_polling
    assert await login(runtime, DAVE) == 0
    runtime.sandbox.faults.add(route="POST /users/{id}/revokeSignInSessions", status=500)
    capsys.readouterr()
    assert await cli(runtime, "remediate", "alice", "-a", "revoke_sessions,enable_mailbox_audit", "--yes",
                     "--json") == acting.EXIT_FAILED
    statuses = {r["action"]: r["status"] for r in json.loads(capsys.readouterr().out)["results"]}
    assert statuses == {"revoke_sessions": "failed", "enable_mailbox_audit": "succeeded"}


class _StillFlagged:
    """The investigation after the run, still flagging a rule for disable_inbox_rules."""

    def to_json(self) -> dict[str, Any]:
        return {"findings": [{"kind": "inbox_rule_forward", "targets": ["rule-that-came-back"],
                              "actions": ["disable_inbox_rules"]}]}


async def test_a_finding_that_remains_after_its_action_exits_7(
        fast_polling: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = fast_polling
    assert await login(runtime, DAVE) == 0
    capsys.readouterr()

    async def investigate_again(*, tenant: Any, user: Any) -> _StillFlagged:
        return _StillFlagged()

    monkeypatch.setattr(acting, "investigate", investigate_again)
    code = await cli(runtime, "remediate", "alice", "-a", "disable_inbox_rules", "--yes", "--json")
    body = json.loads(capsys.readouterr().out)
    assert code == acting.EXIT_FINDING_REMAINS == 7
    assert body["remaining"] == ["disable_inbox_rules: rule-that-came-back"]
    # Without that, the same run is clean.
    monkeypatch.undo()
    assert await cli(runtime, "remediate", "alice", "-a", "disable_inbox_rules", "--yes") == 0


def test_the_exit_codes_are_distinct_and_documented() -> None:
    from pathlib import Path

    codes = {acting.EXIT_OK, acting.EXIT_FAILED, acting.EXIT_REFUSED, acting.EXIT_WAITING,
             acting.EXIT_FINDING_REMAINS, acting.EXIT_NOT_SIGNED_IN}
    assert len(codes) == 6
    doc = (Path(__file__).resolve().parents[3] / "docs" / "cli.md").read_text()
    for code in codes:
        assert f"| {code} |" in doc
    assert "waits for a second responder" in doc
