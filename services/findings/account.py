"""What kind of account this is, and what that means before anyone runs an action (pure functions).

Real tenants hold accounts Contain's cloud writes do not fully reach: synced from on-premises Active
Directory (a cloud block is undone by the next sync; a cloud password reset needs password writeback),
signing in through a federated domain (the password it signs in with is not Entra's), and guests (their
password and MFA live in their home organisation). The cards show these sentences before Run.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.tenant.models import Domain, UserState
from services.vocabulary import ActionId

SYNCED_BLOCK = ("Synced from on-premises Active Directory: a block set in the cloud is undone by the next directory "
                "sync unless the account is disabled on-premises too.")
SYNCED_PASSWORD = ("Synced from on-premises Active Directory: a cloud password reset reaches the account only when "
                   "password writeback is on; otherwise reset the password on-premises.")
FEDERATED_PASSWORD = ("Signs in through the federated domain {domain}: the password it signs in with is kept by the "
                      "federation service, so reset it there as well.")
GUEST_PASSWORD = ("A guest: its password and MFA belong to its home organisation; blocking sign-in and revoking "
                  "sessions here is what this tenant controls.")
GUEST_MARK = "#EXT#"


def is_guest(upn: str, state: UserState | None) -> bool:
    return GUEST_MARK in upn.upper() or (state is not None and (state.user_type or "").lower() == "guest")


def cautions(upn: str, state: UserState | None, domains: Iterable[Domain]) -> dict[str, str]:
    """Sentences by action id for the actions whose effect this account's kind changes."""
    out: dict[str, str] = {}
    if is_guest(upn, state):
        out[ActionId.RESET_PASSWORD.value] = GUEST_PASSWORD
        out[ActionId.RESET_MFA.value] = GUEST_PASSWORD
        return out
    if state is not None and state.on_premises_sync:
        out[ActionId.BLOCK_SIGNIN.value] = SYNCED_BLOCK
        out[ActionId.RESET_PASSWORD.value] = SYNCED_PASSWORD
    domain = upn.rpartition("@")[2].casefold()
    federated = next((d.name for d in domains if d.federated and d.name.casefold() == domain), None)
    if federated:
        sentence = FEDERATED_PASSWORD.format(domain=federated)
        out[ActionId.RESET_PASSWORD.value] = " ".join(filter(None, (out.get(ActionId.RESET_PASSWORD.value), sentence)))
    return out
