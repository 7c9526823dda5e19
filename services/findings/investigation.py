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
from datetime import UTC, datetime, timedelta
from typing import Any

from services.findings.account import cautions
from services.findings.resolve import resolve
from services.findings.rules import Reads, assess
from services.tenant.errors import LicenceRequired, NotFoundError, PermissionDenied, TenantError
from services.tenant.facade import Tenant
from services.vocabulary import Investigation, Resolution, Resolved, UserRef

log = logging.getLogger(__name__)

# What each read is called in a gap sentence.
READ_NAMES = {
    "state": "the account's state", "sign_ins": "interactive sign-ins",
    "non_interactive_sign_ins": "non-interactive sign-ins", "registrations": "method registrations in the audit log",
    "risky": "Identity Protection risk",
    "methods": "authentication methods", "graph_rules": "inbox rules", "exchange_rules": "hidden inbox rules",
    "mailbox": "mailbox settings", "mailbox_permissions": "mailbox permissions",
    "recipient_permissions": "Send As permissions", "blocked_senders": "the restricted senders list",
    "org_config": "the organisation's audit setting", "bypass": "the mailbox audit bypass",
    "roles": "directory roles", "grants": "app consents", "domains": "the tenant's domains",
}


# Reads of the account's own mailbox: an account without one (a guest, an unlicensed user) fails them all
# for the same reason, which the card says once.
MAILBOX_READS = ("graph_rules", "exchange_rules", "mailbox", "mailbox_permissions", "recipient_permissions", "bypass")
NO_MAILBOX = "No Exchange mailbox: mail checks do not apply."
# How far back the audit log is read for method registrations (the log keeps 30 days with P1 or P2).
REGISTRATION_WINDOW = timedelta(days=30)


def _gap(name: str, exc: BaseException) -> str:
    what = READ_NAMES.get(name, name)
    if isinstance(exc, LicenceRequired):
        return f"Could not read {what}: the tenant has no {exc.licence} licence."
    if isinstance(exc, PermissionDenied) and exc.permission:
        return f"Could not read {what}: the app lacks {exc.permission}."
    if isinstance(exc, TenantError):
        return f"Could not read {what}: {exc.sentence}"
    return f"Could not read {what} ({type(exc).__name__})."


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def reads_for(tenant: Tenant, user: UserRef, now: datetime | None = None) -> dict[str, Awaitable[Any]]:
    """Every independent read about `user`, by the Reads field it fills. The sequential benchmark
    walks the same table one call at a time."""
    mailbox = user.user_principal_name
    since = (now or datetime.now(UTC)) - REGISTRATION_WINDOW
    return {
        "state": tenant.get_user_state(user_id=user.id),
        "sign_ins": tenant.list_sign_ins(user_principal_name=user.user_principal_name),
        "non_interactive_sign_ins": tenant.list_non_interactive_sign_ins(user_principal_name=user.user_principal_name),
        "registrations": tenant.list_method_registrations(user_id=user.id, since=since),
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
    calls = reads_for(tenant, user, now)
    results = dict(zip(calls, await asyncio.gather(*calls.values(), return_exceptions=True), strict=True))
    no_mailbox = _has_no_mailbox(results)
    values: dict[str, Any] = {}
    gaps: list[str] = []
    for name, result in results.items():
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result  # cancellation and friends are not gaps
            if not isinstance(result, TenantError):
                log.warning("read %s failed", name, exc_info=result)
            if not (no_mailbox and name in MAILBOX_READS):
                gaps.append(_gap(name, result))
            values[name] = None
        else:
            values[name] = _tuple(result)
    domain_list = tuple(values.pop("domains") or ())
    domains = tuple(d.name for d in domain_list)
    state = values.get("state")
    gaps.extend(state.gaps if state is not None else ())
    roles = values.get("roles")
    admin_unknown = isinstance(results["roles"], BaseException)
    if admin_unknown:
        gaps.append("Admin status unknown: every action on this account is treated as high impact (a second "
                    "responder) until its directory roles can be read.")
    if roles and any(not r.display_name for r in roles):
        gaps.append("Could not read the names of the account's directory roles: the app lacks "
                    "RoleManagement.Read.Directory (Graph answers with role ids only).")
    interactive, non_interactive = values.pop("sign_ins"), values.pop("non_interactive_sign_ins")
    values["sign_ins"] = None if interactive is None and non_interactive is None \
        else tuple(interactive or ()) + tuple(non_interactive or ())
    notes = [_sign_in_note(interactive is not None, non_interactive is not None)]
    if no_mailbox:
        notes.append(NO_MAILBOX)
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
        is_admin=bool(values.get("roles")) or admin_unknown, admin_unknown=admin_unknown,
        gaps=tuple(gaps), investigated_at=now, notes=tuple(notes),
        cautions=cautions(user.user_principal_name, state, domain_list))


def _has_no_mailbox(results: dict[str, Any]) -> bool:
    """Exchange cannot find the account's mailbox (Get-Mailbox) and Graph agrees (no mailbox for REST)."""
    mailbox, rules = results.get("mailbox"), results.get("graph_rules")
    return isinstance(mailbox, NotFoundError) and isinstance(rules, NotFoundError)


def _sign_in_note(interactive: bool, non_interactive: bool) -> str:
    if interactive and non_interactive:
        return "Sign-ins read: interactive and non-interactive."
    if interactive:
        return "Sign-ins read: interactive only."
    if non_interactive:
        return "Sign-ins read: non-interactive only."
    return "Sign-ins could not be read."


async def investigate_query(*, tenant: Tenant, query: str, now: datetime | None = None
                            ) -> Resolution | Investigation:
    """Resolve what a responder typed; investigate when it names exactly one account."""
    resolution = await resolve(tenant, query)
    if not isinstance(resolution, Resolved):
        return resolution
    return await investigate(tenant=tenant, user=resolution.user, now=now)
