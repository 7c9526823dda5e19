"""Stored action requests map onto the lines the progress and summary cards show."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cards.views import LineState, line_from_request
from services.store.records import ActionRequest, RequestState
from services.vocabulary import ActionId, Actor, Impact
from tests.cards.samples import NOW


def request(state: RequestState, **overrides: object) -> ActionRequest:
    fields: dict[str, object] = dict(
        id="req-9", incident_id="inc-1", batch_id="b-1", action="block_signin", impact="high", state=state,
        requested_by_id="aad-1", requested_by_name="Megan Bowen", reason="r", requested_at=NOW,
        expires_at=NOW + timedelta(minutes=30), remind_at=None, reminded_at=None, decided_by_id="aad-2",
        decided_by_name="Nestor Wilke", decided_at=NOW, override=False, lease_owner=None, lease_expires_at=None,
        attempts=1, started_at=NOW, finished_at=NOW + timedelta(seconds=2),
        result={"action": "block_signin", "status": "succeeded", "verified": True, "detail": ""},
        undo_of=None, correlation_id=None,
    )
    fields.update(overrides)
    return ActionRequest(**fields)  # type: ignore[arg-type]


def test_succeeded_request_becomes_a_verified_line() -> None:
    line = line_from_request(request(RequestState.SUCCEEDED))
    assert line.action is ActionId.BLOCK_SIGNIN and line.state is LineState.SUCCEEDED
    assert line.impact is Impact.HIGH and line.verified
    assert line.requested_by == Actor("aad-1", "Megan Bowen")
    assert line.approved_by == Actor("aad-2", "Nestor Wilke")
    assert line.request_id == "req-9" and line.at == NOW + timedelta(seconds=2)


@pytest.mark.parametrize(("state", "expected"), [(RequestState.APPROVED, LineState.QUEUED),
                                                 (RequestState.EXPIRED, LineState.EXPIRED),
                                                 (RequestState.AWAITING_APPROVAL, LineState.AWAITING_APPROVAL)])
def test_every_stored_state_has_a_line_state(state: RequestState, expected: LineState) -> None:
    assert line_from_request(request(state, result=None)).state is expected


def test_all_stored_states_map() -> None:
    for state in RequestState:
        line_from_request(request(state, result=None))


def test_rejector_and_self_decider_are_not_approvers() -> None:
    assert line_from_request(request(RequestState.REJECTED, result=None)).approved_by is None
    same = request(RequestState.SUCCEEDED, decided_by_id="aad-1", decided_by_name="Megan Bowen")
    assert line_from_request(same).approved_by is None
