"""Every Graph request Contain sent in the scenario (tests/conformance/traffic.py) is one a msgraph-sdk
request builder expresses, selects only properties of its type in the Graph v1.0 CSDL, and got an answer
that parses into the SDK's model with nothing left over; known gaps are listed by name below and flip
to failures (strict xfail) once fixed, so the list cannot go stale."""

from __future__ import annotations

import pytest

from sandbox.records import RequestRecord
from tests.conformance import checks, sdk

# Findings that belong to another piece of work, by the start of their sentence. Each is also a strict
# xfail below: when the fix lands, that test passes unexpectedly and the entry must go.
KNOWN: dict[str, str] = {}
# The same for beta routes, checked when msgraph-beta-sdk is installed (it is not a dependency: 700 MB).
KNOWN_BETA: dict[str, str] = {}


def _known(finding: str, known: dict[str, str] = KNOWN) -> bool:
    return any(finding.startswith(prefix) for prefix in known)


@pytest.fixture(scope="module")
def findings(traffic: list[RequestRecord]) -> list[str]:
    return checks.graph_findings(traffic)


def test_the_scenario_reached_graph(traffic: list[RequestRecord]) -> None:
    routes = {r.route for r in traffic if checks.graph_version(r) == "v1.0"}
    # The reads of an investigation, the writes of containment, the summary and the pollers all showed up.
    for method, part in (("GET", "/authentication/methods"), ("PATCH", "/users/"), ("POST", "/revokeSignInSessions"),
                         ("GET", "/security/secureScores"), ("GET", "/security/alerts_v2"),
                         ("GET", "/identityProtection/riskyUsers"), ("DELETE", "/members/")):
        assert any(r.startswith(method) and part in r for r in routes), (method, part, sorted(routes))
    assert any(r.answer is not None for r in traffic), "the sandbox kept no answers: keep_bodies is off"


def test_every_graph_request_conforms(findings: list[str]) -> None:
    assert [f for f in findings if not _known(f)] == []


if KNOWN:  # none today; an entry gets a strict xfail
    @pytest.mark.parametrize("prefix", [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=why))
                                        for p, why in KNOWN.items()])
    def test_known_gap(prefix: str, findings: list[str]) -> None:
        assert [f for f in findings if f.startswith(prefix)] == []


@pytest.fixture(scope="module")
def beta_findings(traffic: list[RequestRecord]) -> list[str]:
    beta = checks.unchecked_beta(traffic)
    if beta and not sdk.installed("beta"):
        pytest.skip(f"msgraph-beta-sdk is not installed, so these beta routes are unchecked: {', '.join(beta)}")
    return checks.graph_findings(traffic, version="beta")


def test_every_beta_request_conforms(beta_findings: list[str]) -> None:
    assert [f for f in beta_findings if not _known(f, KNOWN_BETA)] == []


if KNOWN_BETA:  # none today
    @pytest.mark.parametrize("prefix", [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=why))
                                        for p, why in KNOWN_BETA.items()])
    def test_known_beta_gap(prefix: str, beta_findings: list[str]) -> None:
        assert [f for f in beta_findings if f.startswith(prefix)] == []
