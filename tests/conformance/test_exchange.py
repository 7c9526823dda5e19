"""Every Exchange Online cmdlet parameter Contain sent in the scenario exists on that cmdlet's reference
page, applies to Exchange Online, carries a value of the right kind for switches and booleans, and sits
in one parameter set with the others sent alongside it."""

from __future__ import annotations

import pytest

from sandbox.records import RequestRecord
from tests.conformance import checks

# Findings that belong to another piece of work, by the start of their sentence (see test_graph.KNOWN).
KNOWN: dict[str, str] = {}


def _known(finding: str) -> bool:
    return any(finding.startswith(prefix) for prefix in KNOWN)


@pytest.fixture(scope="module")
def findings(traffic: list[RequestRecord]) -> list[str]:
    return checks.exchange_findings(traffic)


def test_the_scenario_reached_exchange(traffic: list[RequestRecord]) -> None:
    cmdlets = {r.route.removeprefix("EXO ") for r in traffic if checks.is_exchange(r)}
    assert {"Get-InboxRule", "Get-Mailbox", "Set-Mailbox", "Set-CASMailbox", "Remove-MailboxPermission"} <= cmdlets
    assert all(isinstance(r.body, dict) for r in traffic if checks.is_exchange(r))


def test_every_cmdlet_parameter_conforms(findings: list[str]) -> None:
    assert [f for f in findings if not _known(f)] == []


if KNOWN:  # none today; an entry gets a strict xfail, as in test_graph
    @pytest.mark.parametrize("prefix", [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=why))
                                        for p, why in KNOWN.items()])
    def test_known_gap(prefix: str, findings: list[str]) -> None:
        assert [f for f in findings if f.startswith(prefix)] == []
