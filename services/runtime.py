"""The handles a command or a bot turn works with. Built in one place (bot.py, the composition root)
and frozen: nothing adds to it or swaps a handle after start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from services.settings import Settings, TenantEndpoints

if TYPE_CHECKING:
    from sandbox.server import SandboxServer
    from services.store.db import Store
    from services.tenant.auth import TokenSource
    from services.tenant.exchange import ExchangeClient
    from services.tenant.facade import Tenant


@dataclass(frozen=True, slots=True)
class Tuning:
    """Timings a test or a benchmark may shorten; the defaults are the product's."""

    summary_audit_wait_s: float = 20.0  # how long the summary waits for the audit-log query
    timer_interval_s: float = 5.0  # expiry and reminder timers
    poll_alerts: bool = True  # start the alert pollers with the app (tests drive run_once themselves)


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    endpoints: TenantEndpoints
    tokens: TokenSource
    tenant: Tenant  # Graph + Exchange reads and the investigation's operations
    writer: Tenant  # the same tenant through clients that send each write once (services.actions.writer)
    exchange: ExchangeClient
    store: Store
    # Set only in sandbox mode when the sandbox runs in this process (tests, CLI, demo).
    sandbox: SandboxServer | None = None
    tuning: Tuning = field(default_factory=Tuning)
