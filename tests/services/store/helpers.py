"""Small builders for store tests."""

from __future__ import annotations

from services.store import incidents
from services.store.db import Store
from services.store.records import Incident
from services.vocabulary import Actor, UserRef

ALICE = UserRef(id="11111111-aaaa-4aaa-8aaa-000000000001", user_principal_name="alice@contoso.com",
                display_name="Alice Wong")
CAROL = UserRef(id="11111111-aaaa-4aaa-8aaa-000000000003", user_principal_name="carol@contoso.com",
                display_name="Carol Admin")
DANA = Actor(id="22222222-bbbb-4bbb-8bbb-000000000001", name="Dana Responder")
EVAN = Actor(id="22222222-bbbb-4bbb-8bbb-000000000002", name="Evan Responder")
MALLORY = Actor(id="33333333-cccc-4ccc-8ccc-000000000001", name="Mallory Outsider")


async def open_incident(store: Store, target: UserRef = ALICE, *, admin: bool = False) -> Incident:
    opened = await incidents.open_incident(store, target=target, source="command", opened_by=DANA,
                                           target_is_admin=admin, investigation={"isAdmin": admin})
    return opened.incident
