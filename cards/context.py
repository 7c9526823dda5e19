"""What every card builder needs to know about where it is shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CardContext:
    """sandbox: the tenant is the embedded drill tenant (every card then says so).
    auth_off: inbound Bot Framework authentication is disabled (no app id; loopback only).
    now: the clock the card is rendered against (expiry wording, "investigated at").
    correlation_id: shown on notices so a user can quote it to an operator.
    refresh_user_ids: AAD object ids for a Universal Actions ``refresh`` (empty: no refresh block).
    """

    sandbox: bool
    now: datetime
    auth_off: bool = False
    correlation_id: str | None = None
    refresh_user_ids: tuple[str, ...] = ()

    @classmethod
    def current(cls, *, sandbox: bool, auth_off: bool = False, correlation_id: str | None = None) -> CardContext:
        return cls(sandbox=sandbox, auth_off=auth_off, now=datetime.now(UTC), correlation_id=correlation_id)
