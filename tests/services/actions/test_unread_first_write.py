"""reset_password and revoke_sessions write without a read on their first attempt in an incident (one
round trip less before unblock_sender may go), and read first on every later attempt."""

from __future__ import annotations

from services.runtime import Runtime
from services.vocabulary import ActionId
from tests.services.actions.helpers import incident_for, run, user


def _routes_since(rt: Runtime, start: int) -> list[str]:
    return [r.route for r in list(rt.sandbox.request_log)[start:]]


async def test_first_attempt_writes_unread_and_a_later_one_reads_first(runtime: Runtime) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)

    start = len(runtime.sandbox.request_log)
    [first] = await run(runtime, incident, alice, [ActionId.REVOKE_SESSIONS])
    routes = _routes_since(runtime, start)
    assert first.status.value == "succeeded" and first.verified
    post = routes.index("POST /users/{id}/revokeSignInSessions")
    assert "GET /users/{id}" not in routes[:post]  # no read before the write
    assert "GET /users/{id}" in routes[post:]  # the read-back that verifies it

    start = len(runtime.sandbox.request_log)
    [again] = await run(runtime, incident, alice, [ActionId.REVOKE_SESSIONS])
    routes = _routes_since(runtime, start)
    assert again.status.value == "skipped" and again.verified
    assert routes[0] == "GET /users/{id}" and "POST /users/{id}/revokeSignInSessions" not in routes
