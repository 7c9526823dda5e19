"""services.ports: the tenant facade and the in-memory fake both satisfy the ports, and the fake records
what the services asked (the responder check here)."""

from __future__ import annotations

import inspect

import pytest

from services.approvals.responders import responder_check
from services.ports import TenantReads, TenantWrites
from services.tenant.facade import Tenant
from tests.support.fake_tenant import FakeTenant

GROUP = "0b7e6f3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
DAVE = "7d3a1b2c-3d4e-4f50-8a1b-2c3d4e5f6a7b"
BOB = "5b4c3d2e-1f0a-4b9c-8d7e-6f5a4b3c2d1e"


def _port_methods(port: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(port).items()
            if inspect.isfunction(fn) and not name.startswith("_")}


@pytest.mark.parametrize("port", [TenantReads, TenantWrites], ids=lambda p: p.__name__)
def test_the_facade_and_the_fake_offer_every_port_method_with_the_same_keywords(port: type) -> None:
    for name, wanted in _port_methods(port).items():
        for impl in (Tenant, FakeTenant):
            have = inspect.signature(getattr(impl, name))
            assert list(have.parameters) == list(wanted.parameters), f"{impl.__name__}.{name}"


def test_the_fake_is_both_ports() -> None:
    fake = FakeTenant()
    assert isinstance(fake, TenantReads) and isinstance(fake, TenantWrites)


async def test_the_responder_check_asks_the_tenant_once_per_member_and_fails_closed() -> None:
    tenant = FakeTenant(members={GROUP: {DAVE}})
    is_responder = responder_check(tenant=tenant, group_id=GROUP)

    assert await is_responder(DAVE) is True
    assert await is_responder(DAVE) is True  # cached
    assert await is_responder(BOB) is False
    assert await is_responder("not-a-guid") is False  # never reaches the tenant

    assert tenant.asked == [("is_member_of_group", {"user_id": DAVE, "group_id": GROUP}),
                            ("is_member_of_group", {"user_id": BOB, "group_id": GROUP})]
    assert tenant.writes == []


async def test_the_fake_records_writes_with_their_keywords() -> None:
    tenant = FakeTenant()
    rid = await tenant.revoke_sessions(user_id=DAVE)
    await tenant.set_cas_mailbox(mailbox="alice@contoso.com", pop_enabled=False)
    assert rid and tenant.writes == [("revoke_sessions", {"user_id": DAVE}),
                                     ("set_cas_mailbox", {"mailbox": "alice@contoso.com", "pop_enabled": False})]
