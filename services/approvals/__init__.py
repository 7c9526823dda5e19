"""The approval policy (DESIGN.md) as a state machine over the store.

Only responders act; nobody acts on their own account; standard actions run once confirmed, high
ones wait for a second, different responder; unblock_sender waits for reset_password and
revoke_sessions (or an audited override). Every decision is audited with the actor's AAD object id.
Outcomes are small frozen dataclasses whose `message` is one sentence a card or the CLI can show.

Callers need one import (`from services import approvals`): requests are created in confirm,
decided in decide, claimed, run, expired and reminded in lifecycle.
"""

from services.approvals.common import (
    REASON_MAX,
    Outcome,
    OutcomeCode,
    ResponderCache,
    ResponderCheck,
    clean_reason,
    same_account,
)
from services.approvals.confirm import DEFAULT_TTL, confirm
from services.approvals.decide import approve, break_glass, reject
from services.approvals.lifecycle import (
    Finished,
    claim,
    due_reminders,
    expire_due,
    finish,
    heartbeat,
    in_flight_after_crash,
    release,
    seen_activity,
)

__all__ = [
    "DEFAULT_TTL", "REASON_MAX", "Finished", "Outcome", "OutcomeCode", "ResponderCache", "ResponderCheck", "approve",
    "break_glass", "claim", "clean_reason", "confirm", "due_reminders", "expire_due", "finish", "heartbeat",
    "in_flight_after_crash", "reject", "release", "same_account", "seen_activity", "unblock_refusal",
]
