"""The handles a command or a bot turn works with. Built in one place (bot.py) so tests can swap any
of them for a fake in one call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.settings import Settings, TenantEndpoints

if TYPE_CHECKING:
    from services.store.db import Store
    from services.tenant.auth import TokenSource
    from services.tenant.exchange import ExchangeClient
    from services.tenant.facade import Tenant


@dataclass
class Runtime:
    settings: Settings
    endpoints: TenantEndpoints
    tokens: TokenSource
    tenant: Tenant  # Graph + Exchange operations used by investigation and actions
    exchange: ExchangeClient
    store: Store
    # Set only in sandbox mode when the sandbox runs in this process (tests, CLI, demo).
    sandbox: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
