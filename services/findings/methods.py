"""When and from where an authentication method was registered: Graph's method objects carry no IP and,
for phone and email methods, no date, so the facts come from the directory audit log's "User/Admin
registered security info" events, matched to methods here (pure functions, no I/O).

Matching: an event names the kind of method in its resultReason ("User registered Mobile Phone SMS"). A
method with a creation date takes the event of its kind nearest to that date (within MATCH_WINDOW); a
method without one (phone, email) takes the newest event of its kind (and phone type).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.tenant.models import AuthMethod, MethodRegistration

MATCH_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class MethodFacts:
    registered: datetime | None  # the method's createdDateTime, else the audit event's time
    ip_address: str | None  # the registering session's IP, from the audit event
    by_admin: bool = False


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _phone_type(method: AuthMethod | Mapping[str, Any]) -> str | None:
    raw = method.raw if isinstance(method, AuthMethod) else (method.get("raw") or {})
    value = raw.get("phoneType")
    return str(value) if value else None


def registration_for(method_type: str, phone_type: str | None, created: datetime | None,
                     registrations: Iterable[MethodRegistration]) -> MethodRegistration | None:
    """The audit event that registered this method, or None."""
    same = [r for r in registrations if r.method_type == method_type and r.at is not None
            and (method_type != "phone" or r.phone_type == (phone_type or "mobile"))]
    if not same:
        return None
    created = _utc(created)
    if created is not None:
        near = [r for r in same if abs((_utc(r.at) or created) - created) <= MATCH_WINDOW]
        return min(near, key=lambda r: abs((_utc(r.at) or created) - created)) if near else None
    return max(same, key=lambda r: _utc(r.at) or datetime.min.replace(tzinfo=UTC))


def method_facts(method: AuthMethod, registrations: Iterable[MethodRegistration] | None) -> MethodFacts:
    """The registration time and IP of `method`, from itself and the audit log."""
    event = registration_for(method.type, _phone_type(method), method.created, registrations or ())
    return MethodFacts(registered=_utc(method.created) or (_utc(event.at) if event else None),
                       ip_address=event.ip_address if event else None, by_admin=bool(event and event.by_admin))
