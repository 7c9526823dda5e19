"""Changes Microsoft applies with a delay: verification waits a bounded time, then says "written, not yet
visible" instead of failing or claiming it verified."""

from __future__ import annotations

import time
from typing import Any

from services.actions.engine import NOT_YET_VISIBLE
from services.vocabulary import ActionId, ActionStatus
from tests.services.actions.helpers import incident_for, run, user

REVOKE = "POST /users/{id}/revokeSignInSessions"


def _lag(runtime: Any, route: str, seconds: float) -> None:
    runtime.sandbox.faults.configure({"rules": [{"route": route, "propagationS": seconds}]})


async def test_a_revocation_that_applies_late_is_verified_once_it_shows(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    _lag(runtime, REVOKE, 1.0)

    [result] = await run(runtime, incident, alice, [ActionId.REVOKE_SESSIONS], verify_wait_s=10.0)

    assert result.status is ActionStatus.SUCCEEDED
    assert result.verified, result.detail


async def test_a_change_still_propagating_is_written_not_yet_visible(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    _lag(runtime, REVOKE, 60.0)
    writes_before = len(runtime.sandbox.write_log)

    started = time.monotonic()
    [result] = await run(runtime, incident, alice, [ActionId.REVOKE_SESSIONS], verify_wait_s=0.6)

    assert time.monotonic() - started < 10
    assert result.status is ActionStatus.SUCCEEDED and not result.verified
    assert result.detail.startswith(f"{NOT_YET_VISIBLE}:"), result.detail
    # Written once: a read-back that lags is not a reason to write again.
    assert [w.route for w in runtime.sandbox.write_log[writes_before:]] == [REVOKE]


async def test_a_grant_deletion_that_replicates_late_is_verified_once_it_shows(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    _lag(runtime, "DELETE /oauth2PermissionGrants/{id}", 1.0)

    [result] = await run(runtime, incident, alice, [ActionId.REVOKE_OAUTH_GRANTS], verify_wait_s=10.0)

    assert result.status is ActionStatus.SUCCEEDED
    assert result.verified, result.detail


async def test_a_risk_change_reads_as_processing_until_it_applies(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    _lag(runtime, "POST /identityProtection/riskyUsers/confirmCompromised", 60.0)

    [result] = await run(runtime, incident, alice, [ActionId.CONFIRM_COMPROMISED], verify_wait_s=0.5)

    assert result.status is ActionStatus.SUCCEEDED and not result.verified
    assert result.detail.startswith(f"{NOT_YET_VISIBLE}:")
    state = runtime.sandbox.state
    seen = runtime.sandbox.propagation.view(state.data)
    risky = next(r for r in seen["riskyUsers"] if r["id"] == alice.id)
    assert risky["isProcessing"] is True and risky["riskState"] != "confirmedCompromised"
    assert state.risky_user(alice.id)["riskState"] == "confirmedCompromised"  # written, not yet visible


async def test_without_a_delay_nothing_waits(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    started = time.monotonic()
    [result] = await run(runtime, incident, alice, [ActionId.REVOKE_SESSIONS], verify_wait_s=30.0)
    assert result.verified and time.monotonic() - started < 10
