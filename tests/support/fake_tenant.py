"""An in-memory tenant for unit tests: it answers reads from what the test put in it and records every
call it was asked, reads and writes alike (`asked`, `writes`), so a test asserts on what the code asked
rather than on how it asked. It satisfies services.ports.TenantReads and TenantWrites.

    tenant = FakeTenant(users=[ALICE_REF], members={GROUP: {ALICE_ID}})
    ...
    assert tenant.writes == [("revoke_sessions", {"user_id": ALICE_ID})]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from services.vocabulary import UserRef

if TYPE_CHECKING:
    from datetime import datetime


def _given(args: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments a method was called with (its locals at entry, without self)."""
    given = {k: v for k, v in args.items() if k != "self"}
    for bag in ("protocols", "settings"):  # **kwargs methods: record their keywords flat
        given.update(given.pop(bag, None) or {})
    return given


class FakeTenant:
    def __init__(self, *, users: Iterable[UserRef] = (), members: dict[str, set[str]] | None = None,
                 answers: dict[str, Any] | None = None) -> None:
        self.users = {u.id: u for u in users}
        self.members = {k: set(v) for k, v in (members or {}).items()}  # group id -> member ids
        self.answers: dict[str, Any] = dict(answers or {})  # method name -> what it answers
        self.asked: list[tuple[str, dict[str, Any]]] = []
        self.writes: list[tuple[str, dict[str, Any]]] = []

    def _ask(self, name: str, kwargs: dict[str, Any], default: Any) -> Any:
        self.asked.append((name, kwargs))
        return self.answers.get(name, default)

    def _write(self, name: str, kwargs: dict[str, Any]) -> str:
        self.writes.append((name, kwargs))
        return f"fake-request-{len(self.writes)}"

    # -- reads with state -------------------------------------------------------------------------
    async def get_user(self, *, user_id: str) -> UserRef | None:
        self.asked.append(("get_user", {"user_id": user_id}))
        found = self.users.get(user_id)
        if found is None:
            found = next((u for u in self.users.values() if u.user_principal_name.lower() == user_id.lower()), None)
        return found

    async def is_member_of_group(self, *, user_id: str, group_id: str) -> bool:
        self.asked.append(("is_member_of_group", {"user_id": user_id, "group_id": group_id}))
        return user_id in self.members.get(group_id, set())

    # -- every other read answers `answers[name]`, else an empty answer -------------------------------

    async def create_audit_query(self, *,
            display_name: str, start: datetime, end: datetime, user_principal_names: list[str] | None = None,
            operations: list[str] | None = None) -> Any:
        return self._ask("create_audit_query", _given(locals()), None)

    async def default_domain(self) -> Any:
        return self._ask("default_domain", _given(locals()), None)

    async def find_users_by_address(self, *, address: str) -> Any:
        return self._ask("find_users_by_address", _given(locals()), [])

    async def get_audit_bypass(self, *, mailbox: str) -> Any:
        return self._ask("get_audit_bypass", _given(locals()), None)

    async def get_audit_query(self, *, query_id: str) -> Any:
        return self._ask("get_audit_query", _given(locals()), None)

    async def get_cas_mailbox(self, *, mailbox: str) -> Any:
        return self._ask("get_cas_mailbox", _given(locals()), None)

    async def get_mailbox(self, *, mailbox: str) -> Any:
        return self._ask("get_mailbox", _given(locals()), None)

    async def get_organization_config(self) -> Any:
        return self._ask("get_organization_config", _given(locals()), None)

    async def get_risky_user(self, *, user_id: str) -> Any:
        return self._ask("get_risky_user", _given(locals()), None)

    async def get_sign_in_preferences(self, *, user_id: str) -> Any:
        return self._ask("get_sign_in_preferences", _given(locals()), None)

    async def get_user_state(self, *, user_id: str) -> Any:
        return self._ask("get_user_state", _given(locals()), None)

    async def list_admin_roles(self, *, user_id: str) -> Any:
        return self._ask("list_admin_roles", _given(locals()), [])

    async def list_alerts(self, *, created_after: datetime | None = None, top: int = 100) -> Any:
        return self._ask("list_alerts", _given(locals()), [])

    async def list_audit_records(self, *, query_id: str, limit: int = 1000) -> Any:
        return self._ask("list_audit_records", _given(locals()), [])

    async def list_auth_methods(self, *, user_id: str) -> Any:
        return self._ask("list_auth_methods", _given(locals()), [])

    async def list_blocked_senders(self, *, sender_address: str | None = None) -> Any:
        return self._ask("list_blocked_senders", _given(locals()), [])

    async def list_control_profiles(self) -> Any:
        return self._ask("list_control_profiles", _given(locals()), [])

    async def list_inbox_rules(self, *, user_id: str) -> Any:
        return self._ask("list_inbox_rules", _given(locals()), [])

    async def list_inbox_rules_exchange(self, *, mailbox: str, include_hidden: bool = True) -> Any:
        return self._ask("list_inbox_rules_exchange", _given(locals()), [])

    async def list_mailbox_permissions(self, *, mailbox: str) -> Any:
        return self._ask("list_mailbox_permissions", _given(locals()), [])

    async def list_method_registrations(self, *, user_id: str, since: datetime) -> Any:
        return self._ask("list_method_registrations", _given(locals()), [])

    async def list_non_interactive_sign_ins(self, *, user_principal_name: str, top: int = 50) -> Any:
        return self._ask("list_non_interactive_sign_ins", _given(locals()), [])

    async def list_oauth_grants(self, *, user_id: str) -> Any:
        return self._ask("list_oauth_grants", _given(locals()), [])

    async def list_recipient_permissions(self, *, mailbox: str) -> Any:
        return self._ask("list_recipient_permissions", _given(locals()), [])

    async def list_risky_users(self, *, updated_after: datetime | None = None, top: int = 100) -> Any:
        return self._ask("list_risky_users", _given(locals()), [])

    async def list_secure_scores(self, *, top: int = 31) -> Any:
        return self._ask("list_secure_scores", _given(locals()), [])

    async def list_sign_ins(self, *, user_principal_name: str, top: int = 50) -> Any:
        return self._ask("list_sign_ins", _given(locals()), [])

    async def list_users_starting_with(self, *, prefix: str, top: int = 25) -> Any:
        return self._ask("list_users_starting_with", _given(locals()), [])

    async def search_users(self, *, name: str, top: int = 25) -> Any:
        return self._ask("search_users", _given(locals()), [])

    async def verified_domains(self) -> Any:
        return self._ask("verified_domains", _given(locals()), [])

    # -- writes: recorded, answered with a request id -------------------------------------------------

    async def clear_forwarding(self, *, mailbox: str) -> str | None:
        return self._write("clear_forwarding", _given(locals()))

    async def confirm_compromised(self, *, user_id: str) -> str | None:
        return self._write("confirm_compromised", _given(locals()))

    async def delete_auth_method(self, *, user_id: str, method_type: str, method_id: str) -> str | None:
        return self._write("delete_auth_method", _given(locals()))

    async def delete_inbox_rule(self, *, user_id: str, rule_id: str) -> str | None:
        return self._write("delete_inbox_rule", _given(locals()))

    async def delete_oauth_grant(self, *, grant_id: str) -> str | None:
        return self._write("delete_oauth_grant", _given(locals()))

    async def disable_inbox_rule_exchange(self, *, mailbox: str, identity: str) -> str | None:
        return self._write("disable_inbox_rule_exchange", _given(locals()))

    async def dismiss_risk(self, *, user_id: str) -> str | None:
        return self._write("dismiss_risk", _given(locals()))

    async def enable_inbox_rule_exchange(self, *, mailbox: str, identity: str) -> str | None:
        return self._write("enable_inbox_rule_exchange", _given(locals()))

    async def remove_admin_role(self, *, role_id: str, user_id: str) -> str | None:
        return self._write("remove_admin_role", _given(locals()))

    async def remove_blocked_sender(self, *, sender_address: str) -> str | None:
        return self._write("remove_blocked_sender", _given(locals()))

    async def remove_inbox_rule_exchange(self, *, mailbox: str, identity: str) -> str | None:
        return self._write("remove_inbox_rule_exchange", _given(locals()))

    async def remove_mailbox_permission(self, *, mailbox: str, user: str, access_rights: list[str]) -> str | None:
        return self._write("remove_mailbox_permission", _given(locals()))

    async def remove_recipient_permission(self, *, mailbox: str, trustee: str, access_rights: list[str]) -> str | None:
        return self._write("remove_recipient_permission", _given(locals()))

    async def remove_send_on_behalf(self, *, mailbox: str, principals: list[str]) -> str | None:
        return self._write("remove_send_on_behalf", _given(locals()))

    async def revoke_sessions(self, *, user_id: str) -> str | None:
        return self._write("revoke_sessions", _given(locals()))

    async def set_account_enabled(self, *, user_id: str, enabled: bool) -> str | None:
        return self._write("set_account_enabled", _given(locals()))

    async def set_cas_mailbox(self, *, mailbox: str, **protocols: bool) -> str | None:
        return self._write("set_cas_mailbox", _given(locals()))

    async def set_default_method(self, *, user_id: str, method: str) -> str | None:
        return self._write("set_default_method", _given(locals()))

    async def set_inbox_rule_enabled(self, *, user_id: str, rule_id: str, enabled: bool) -> str | None:
        return self._write("set_inbox_rule_enabled", _given(locals()))

    async def set_mailbox(self, *, mailbox: str, **settings: Any) -> str | None:
        return self._write("set_mailbox", _given(locals()))

    async def set_audit_bypass(self, *, mailbox: str, enabled: bool) -> str | None:
        return self._write("set_audit_bypass", _given(locals()))

    async def set_password(self, *, user_id: str, password: str, force_change: bool = True) -> str | None:
        return self._write("set_password", _given(locals()))
