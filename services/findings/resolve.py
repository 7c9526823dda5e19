"""From what a responder typed ("alice", "Alice Smith", "alice@contoso.com") to one account.

Ambiguity and not-found are results, not exceptions. Text that cannot be a name (control
characters, absurd length) resolves to NotFound before any filter is built; everything else
reaches Graph only as an escaped OData literal, and candidates from `$search` are re-checked here
so a crafted name can never widen the match.
"""

from __future__ import annotations

import asyncio

from services.tenant.facade import QueryRejected, Tenant, check_query_text
from services.vocabulary import Ambiguous, NotFound, Resolution, Resolved, UserRef

MIN_NAME_LENGTH = 2  # shorter than this always lists candidates instead of guessing


def _unique(users: list[UserRef]) -> list[UserRef]:
    return list({u.id: u for u in users}.values())


def _matches(user: UserRef, query: str) -> bool:
    """Does `query` plausibly name `user`: a prefix of the display name, of one of its words, or of
    the UPN? Guards against a search service that matches more than the whole typed text."""
    q = query.casefold()
    name = user.display_name.casefold()
    return name.startswith(q) or any(w.startswith(q) for w in name.split()) \
        or user.user_principal_name.casefold().startswith(q)


def _pick(query: str, candidates: list[UserRef]) -> Resolution:
    candidates = sorted(_unique(candidates), key=lambda u: (u.display_name.casefold(), u.user_principal_name))
    if not candidates:
        return NotFound(query)
    exact = [u for u in candidates if u.display_name.casefold() == query.casefold()]
    if len(exact) == 1:
        return Resolved(exact[0])
    if len(candidates) == 1:
        return Resolved(candidates[0])
    return Ambiguous(query, tuple(exact or candidates))


async def resolve(tenant: Tenant, query: str) -> Resolution:
    """Resolve a UPN, an email address, a mail nickname or a display name to one account."""
    try:
        text = check_query_text(query)
    except QueryRejected:
        return NotFound(query)
    if "@" in text:
        users = _unique(await tenant.find_users_by_address(address=text))
        if len(users) == 1:
            return Resolved(users[0])
        return Ambiguous(text, tuple(users)) if users else NotFound(text)
    if len(text) < MIN_NAME_LENGTH:
        found = [u for u in await tenant.list_users_starting_with(prefix=text) if _matches(u, text)]
        return Ambiguous(text, tuple(sorted(_unique(found), key=lambda u: u.display_name.casefold()))) if found \
            else NotFound(text)

    async def by_upn() -> list[UserRef]:
        # "alice" is most often alice@<default domain>; an exact UPN beats any display name.
        if " " in text:
            return []
        domain = await tenant.default_domain()
        return await tenant.find_users_by_address(address=f"{text}@{domain}") if domain else []

    # Both lookups finish (or fail) before either result is used, so a failure leaves nothing running.
    upn_result, search_result = await asyncio.gather(by_upn(), tenant.search_users(name=text), return_exceptions=True)
    for outcome in (upn_result, search_result):
        if isinstance(outcome, BaseException):
            raise outcome
    assert isinstance(upn_result, list) and isinstance(search_result, list)
    upn_users, searched = upn_result, search_result
    if len(upn_users) == 1:
        return Resolved(upn_users[0])
    return _pick(text, [u for u in searched if _matches(u, text)] + upn_users)
