"""Fault injection: 429 + Retry-After and 503 before the write, after_write, timeouts, throttle, latency."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox.faults import FaultInjector, FaultRule
from tests.sandbox.conftest import ALICE, Tenant


async def test_429_with_retry_after_writes_nothing(tenant: Tenant) -> None:
    tenant.server.faults.configure({"rules": [{"route": "PATCH /users/{id}", "status": 429, "retryAfter": 3,
                                               "times": 1}]})
    first = await tenant.graph("PATCH", f"/users/{ALICE}", json={"accountEnabled": False})
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert first.json()["error"]["code"] == "TooManyRequests"
    assert tenant.server.write_log == [] and tenant.server.state.user(ALICE)["accountEnabled"] is True
    second = await tenant.graph("PATCH", f"/users/{ALICE}", json={"accountEnabled": False})
    assert second.status_code == 204 and len(tenant.server.write_log) == 1
    assert (await tenant.graph("GET", f"/users/{ALICE}")).status_code == 200  # other routes untouched


async def test_503_on_exchange_by_cmdlet_via_admin_endpoint(tenant: Tenant) -> None:
    resp = await tenant.admin("POST", "/faults", json={"rules": [{"route": "EXO Set-*", "status": 503}]})
    assert resp.status_code == 200
    failed = await tenant.exo("Set-Mailbox", {"Identity": "alice", "AuditEnabled": True})
    assert failed.status_code == 503 and failed.json()["error"]["details"]
    assert (await tenant.exo("Get-Mailbox", {"Identity": "alice"})).json()["value"][0]["AuditEnabled"] is False
    assert (await tenant.admin("DELETE", "/faults")).status_code == 200
    assert (await tenant.exo("Set-Mailbox", {"Identity": "alice", "AuditEnabled": True})).status_code == 200
    assert [w.route for w in tenant.server.write_log] == ["EXO Set-Mailbox"]


async def test_after_write_lands_the_write_then_fails(tenant: Tenant) -> None:
    tenant.server.faults.configure([{"route": "POST /users/{id}/revokeSignInSessions", "status": 503,
                                     "afterWrite": True, "times": 1}])
    resp = await tenant.graph("POST", f"/users/{ALICE}/revokeSignInSessions")
    assert resp.status_code == 503
    assert len(tenant.server.write_log) == 1  # the write landed; a careful client reads before retrying


async def test_timeout_holds_the_request(tenant: Tenant) -> None:
    tenant.server.faults.configure([{"route": "GET /organization", "timeout": True, "holdS": 5}])
    with pytest.raises(httpx.ReadTimeout):
        await tenant.graph("GET", "/organization", timeout=0.3)


async def test_throttle_answers_429_above_the_rate(tenant: Tenant) -> None:
    tenant.server.faults.configure([{"route": "GET /users/{id}", "rps": 2, "burst": 3}])
    statuses = [(await tenant.graph("GET", f"/users/{ALICE}")).status_code for _ in range(6)]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
    throttled = await tenant.graph("GET", f"/users/{ALICE}")
    if throttled.status_code == 429:
        assert int(throttled.headers["Retry-After"]) >= 1


async def test_latency_is_a_real_wait(tenant: Tenant) -> None:
    tenant.server.faults.base_latency_ms = 150
    start = time.perf_counter()
    await tenant.graph("GET", f"/users/{ALICE}")
    assert time.perf_counter() - start >= 0.14
    tenant.server.faults.base_latency_ms = 0


def test_probability_is_seeded_and_rules_validate() -> None:
    def outcomes(seed: int) -> list[int | None]:
        injector = FaultInjector({"seed": seed, "rules": [{"route": "*", "status": 503, "probability": 0.5}]})
        return [injector.decide("GET /users").status for _ in range(40)]

    assert outcomes(7) == outcomes(7)
    assert 5 < outcomes(7).count(503) < 35
    assert FaultInjector().decide("LOGIN POST /{tenant}/oauth2/v2.0/token").status is None
    assert not FaultRule(route="*").matches("LOGIN GET /x")
    for bad in ({"route": "*", "status": 404}, {"route": "*", "probability": 2}, {"route": "*", "colour": 1},
                {"route": "*", "afterWrite": True}):
        with pytest.raises(ValueError):
            FaultRule.from_json(bad)
