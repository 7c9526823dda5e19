"""Investigate one account: one concurrent fan-out of every independent read, then pure findings.

The wall time is one round trip (plus the resolve before it), not one per read. A read that fails
becomes a one-sentence gap on the card instead of sinking the investigation; a 403 names the
permission the app registration lacks. The slow Audit Log Query API is deliberately not here
(see the summary).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from services.findings.resolve import resolve
from services.findings.rules import Reads, assess
from services.tenant.errors import PermissionDenied, TenantError
from services.tenant.facade import Tenant
from services.vocabulary import Investigation, Resolution, Resolved, UserRef

log = logging.getLogger(__name__)

# What each read is called in a gap sentence.
READ_NAMES = {
    "state": "the account's state", "sign_ins": "sign-ins", "risky": "Identity Protection risk",
    "methods": "authentication methods", "graph_rules": "inbox rules", "exchange_rules": "hidden inbox rules",
    "mailbox": "mailbox settings", "mailbox_permissions": "mailbox permissions",
    "recipient_permissions": "Send As permissions", "blocked_senders": "the restricted senders list",
    "org_config": "the organisation's audit setting", "bypass": "the mailbox audit bypass",
    "roles": "directory roles", "grants": "app consents", "domains": "the tenant's domains",
}


def _gap(name: str, exc: BaseException) -> str:
    what = READ_NAMES.get(name, name)
    if isinstance(exc, PermissionDenied) and exc.permission:
        return f"Could not read {what}: the app lacks {exc.permission}."
    if isinstance(exc, TenantError):
        return f"Could not read {what}: {exc.sentence}"
    return f"Could not read {what} ({type(exc).__name__})."


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def reads_for(tenant: Tenant, user: UserRef) -> dict[str, Awaitable[Any]]:
    """Every independent read about `user`, by the Reads field it fills. The sequential benchmark
    walks the same table one call at a time."""
    mailbox = user.user_principal_name
    return {
        "state": tenant.get_user_state(user_id=user.id),
        "sign_ins": tenant.list_sign_ins(user_principal_name=user.user_principal_name),
        "risky": tenant.get_risky_user(user_id=user.id),
        "methods": tenant.list_auth_methods(user_id=user.id),
        "graph_rules": tenant.list_inbox_rules(user_id=user.id),
        "exchange_rules": tenant.list_inbox_rules_exchange(mailbox=mailbox, include_hidden=True),
        "mailbox": tenant.get_mailbox(mailbox=mailbox),
        "mailbox_permissions": tenant.list_mailbox_permissions(mailbox=mailbox),
        "recipient_permissions": tenant.list_recipient_permissions(mailbox=mailbox),
        "blocked_senders": tenant.list_blocked_senders(),
        "org_config": tenant.get_organization_config(),
        "bypass": tenant.get_audit_bypass(mailbox=mailbox),
        "roles": tenant.list_admin_roles(user_id=user.id),
        "grants": tenant.list_oauth_grants(user_id=user.id),
        "domains": tenant.verified_domains(),
    }


async def investigate(*, tenant: Tenant, user: UserRef, now: datetime | None = None) -> Investigation:
    """Read everything about `user` at once and return ranked findings and recommended actions."""
    now = now or datetime.now(UTC)
    calls = reads_for(tenant, user)
    results = await asyncio.gather(*calls.values(), return_exceptions=True)
    values: dict[str, Any] = {}
    gaps: list[str] = []
    for name, result in zip(calls, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result  # cancellation and friends are not gaps
            if not isinstance(result, TenantError):
                log.warning("read %s failed", name, exc_info=result)
            gaps.append(_gap(name, result))
            values[name] = None
        else:
            values[name] = _tuple(result)
    domains = tuple(d.name for d in values.pop("domains") or ())
    state = values.get("state")
    if state is not None:
        user = UserRef(id=user.id, user_principal_name=state.user_principal_name or user.user_principal_name,
                       display_name=state.display_name or user.display_name,
                       account_enabled=state.account_enabled, mail=state.mail or user.mail)
    reads = Reads(user=user, now=now, domains=domains, **values)
    assessment = assess(reads)
    risky = values.get("risky")
    return Investigation(
        user=user, findings=assessment.findings, recommended_actions=assessment.recommended_actions,
        risk_level=risky.risk_level if risky else None, risk_state=risky.risk_state if risky else None,
        is_admin=bool(values.get("roles")), gaps=tuple(gaps), investigated_at=now)


async def investigate_query(*, tenant: Tenant, query: str, now: datetime | None = None
                            ) -> Resolution | Investigation:
    """Resolve what a responder typed; investigate when it names exactly one account."""
    resolution = await resolve(tenant, query)
    if not isinstance(resolution, Resolved):
        return resolution
    return await investigate(tenant=tenant, user=resolution.user, now=now)
