"""The sandbox tenant's state: plain JSON data (so it persists as is) plus the lookups the routes need.

Graph and Exchange Online read and write the same records — an inbox rule disabled through Graph
is disabled in Get-InboxRule — because both sides render views of one `inboxRules` list.
Passwords are never stored: a password change keeps only the time it happened.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.errors import GraphError, not_found
from sandbox.fixture import SCHEMA_VERSION, FixtureError, iso, load_fixture, read_fixture

LICENCE_RANK = {"free": 0, "P1": 1, "P2": 2}


class TenantState:
    def __init__(self, *, fixture: Path | None, state_file: Path | None) -> None:
        self.fixture_path = fixture
        self.state_file = state_file
        self._raw, self.fixture_digest = read_fixture(fixture)
        self.data: dict[str, Any] = {}
        if not self._load_saved():
            self.reset()

    # -- lifecycle -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Restore the fixture (dates re-resolved against now) and persist it."""
        try:
            self.data = load_fixture(self._raw)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            if isinstance(exc, FixtureError):
                raise
            where = self.fixture_path or "(default)"
            raise FixtureError(f"The sandbox fixture {where} is malformed near {exc!s}.") from None
        self.data["fixtureDigest"] = self.fixture_digest
        self.save()

    def _load_saved(self) -> bool:
        if self.state_file is None or not self.state_file.is_file():
            return False
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return False
        if data.get("schemaVersion") != SCHEMA_VERSION or data.get("fixtureDigest") != self.fixture_digest:
            return False  # another fixture, or an older format: start over from the fixture
        self.data = data
        return True

    def save(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.state_file)  # atomic: a reader never sees half a file

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)

    # -- tenant and apps -------------------------------------------------------------------------
    @property
    def tenant(self) -> dict[str, Any]:
        tenant: dict[str, Any] = self.data["tenant"]
        return tenant

    @property
    def tenant_id(self) -> str:
        return str(self.tenant["id"])

    @property
    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = self.data["options"]
        return options

    def require_licence(self, level: str) -> None:
        """Refuse as Graph does when the tenant's Entra ID licence is below `level` (P1: sign-in logs and
        signInActivity; P2: Identity Protection). A fixture without `entraLicence` has P2."""
        have = str(self.tenant.get("entraLicence", "P2"))
        if LICENCE_RANK.get(have, 0) < LICENCE_RANK[level]:
            raise GraphError(403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                             "Neither tenant is B2C or tenant doesn't have premium license")

    def tenant_names(self) -> set[str]:
        names = {self.tenant_id.lower(), str(self.tenant["defaultDomain"]).lower()}
        names.update(d.lower() for d in self.tenant.get("verifiedDomains", []))
        return names

    def app(self, client_id: str) -> dict[str, Any] | None:
        return next((a for a in self.data["apps"] if a["clientId"] == client_id), None)

    @property
    def default_app(self) -> dict[str, Any]:
        apps: list[dict[str, Any]] = self.data["apps"]
        return apps[0]

    # -- directory -------------------------------------------------------------------------------
    @property
    def users(self) -> list[dict[str, Any]]:
        users: list[dict[str, Any]] = self.data["users"]
        return users

    def find_user(self, key: str) -> dict[str, Any] | None:
        """By object id or UPN (case-insensitive), as Graph's /users/{id | userPrincipalName}."""
        low = key.lower()
        for user in self.users:
            if user["id"].lower() == low or user["userPrincipalName"].lower() == low:
                return user
        return None

    def user(self, key: str) -> dict[str, Any]:
        user = self.find_user(key)
        if user is None:
            raise not_found(key)
        return user

    def find_recipient(self, key: str) -> dict[str, Any] | None:
        """Exchange identities: UPN, primary SMTP, alias, display name, object id or mailbox GUID."""
        low = key.strip().lower()
        for user in self.users:
            mb = self.data["mailboxes"].get(user["id"])
            names = {user["id"].lower(), user["userPrincipalName"].lower(), str(user.get("mail") or "").lower(),
                     user["displayName"].lower()}
            if mb:
                names.update({mb["alias"].lower(), mb["guid"].lower()})
            if low in names:
                return user
        return None

    def object(self, object_id: str) -> tuple[str, dict[str, Any]] | None:
        for kind in ("users", "groups", "directoryRoles", "servicePrincipals"):
            for obj in self.data[kind]:
                if obj["id"] == object_id:
                    return kind, obj
        return None

    def group(self, group_id: str) -> dict[str, Any]:
        groups: list[dict[str, Any]] = self.data["groups"]
        for group in groups:
            if group["id"] == group_id:
                return group
        raise not_found(group_id)

    def transitive_members(self, group_id: str) -> list[str]:
        """Member ids of a group and of its nested groups, each once, nested groups included."""
        seen: list[str] = []
        stack = [group_id]
        visited: set[str] = set()
        while stack:
            gid = stack.pop()
            if gid in visited:
                continue
            visited.add(gid)
            for member in self.group(gid)["members"]:
                if member not in seen:
                    seen.append(member)
                if any(g["id"] == member for g in self.data["groups"]):
                    stack.append(member)
        return seen

    def groups_of(self, object_id: str) -> list[str]:
        """Ids of every group that contains the object, directly or through nesting."""
        return [g["id"] for g in self.data["groups"] if object_id in self.transitive_members(g["id"])]

    def roles_of(self, user_id: str) -> list[dict[str, Any]]:
        return [r for r in self.data["directoryRoles"] if user_id in r.get("members", [])]

    # -- mail ------------------------------------------------------------------------------------
    def mailbox(self, user_id: str) -> dict[str, Any] | None:
        mailboxes: dict[str, dict[str, Any]] = self.data["mailboxes"]
        return mailboxes.get(user_id)

    def rule_by_graph_id(self, user_id: str, rule_id: str) -> dict[str, Any] | None:
        mb = self.mailbox(user_id)
        if mb is None:
            return None
        rules: list[dict[str, Any]] = mb["inboxRules"]
        return next((r for r in rules if r["id"] == rule_id and not r["hidden"]), None)

    def add_audit(self, user: dict[str, Any], operation: str, record_type: str, client_ip: str,
                  data: dict[str, Any]) -> None:
        """Append a unified audit log record, as the service does after a change to a mailbox."""
        now = iso(datetime.now(UTC))
        upn = user["userPrincipalName"]
        app = self.default_app
        self.data["auditRecords"].insert(0, {
            "id": str(uuid.uuid4()), "createdDateTime": now, "auditLogRecordType": record_type,
            "operation": operation, "organizationId": self.tenant_id, "userType": "application",
            "userId": app.get("displayName", app["clientId"]), "service": "Exchange", "objectId": upn,
            "userPrincipalName": upn, "clientIp": client_ip, "administrativeUnits": [],
            "auditData": {"@odata.type": "#microsoft.graph.security.exchangeAdminAuditRecord",
                          "AppId": app["clientId"], "Parameters": data}})

    def risky_user(self, user_id: str) -> dict[str, Any] | None:
        return next((r for r in self.data["riskyUsers"] if r["id"] == user_id), None)

    def remediate_risk_after_admin_reset(self, user_id: str, now: datetime) -> None:
        """An admin-generated temporary password closes the user's risk, as Identity Protection does."""
        risky = self.risky_user(user_id)
        if risky is not None and risky.get("riskState") in ("atRisk", "confirmedCompromised"):
            risky.update(riskLevel="none", riskState="remediated", riskDetail="adminGeneratedTemporaryPassword",
                         riskLastUpdatedDateTime=iso(now))
