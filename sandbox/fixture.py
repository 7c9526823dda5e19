"""Loading a tenant fixture (documented in docs/sandbox.md) into the sandbox's state.

Fixtures are written for people: dates are relative to now ("-1d", "-45m", "now", "-1d+5m"), a
user's sign-ins, risk, authentication methods and mailbox sit inside the user, and Secure Score
history is generated from per-control scores. `load_fixture` turns that into the flat state
(`sandbox.state`) with absolute ISO dates, so the tenant always looks current.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
_REL = re.compile(r"^(now)?((?:[+-]\d+(?:\.\d+)?[smhdw])*)$")
_PART = re.compile(r"([+-]\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NS = uuid.UUID("3b0c2a51-7d0e-4f1c-9a55-6f1b8e2d4c10")


class FixtureError(ValueError):
    """The fixture file is unreadable or malformed; one sentence naming the problem."""


def default_fixture_path() -> Path:
    return Path(str(resources.files("sandbox") / "fixtures" / "contoso.json"))


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def resolve_relative(value: Any, now: datetime) -> Any:
    """Replace relative date strings anywhere in a JSON value with absolute ISO 8601 UTC."""
    if isinstance(value, dict):
        return {k: resolve_relative(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_relative(v, now) for v in value]
    if isinstance(value, str) and value and (value == "now" or value[0] in "+-" or value.startswith("now")):
        m = _REL.match(value)
        if m and (m.group(1) or m.group(2)):
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(m.group(2)))
            return iso(now + timedelta(seconds=seconds))
    return value


def read_fixture(path: Path | None) -> tuple[dict[str, Any], str]:
    """Return the raw fixture and a digest of its bytes (state.json remembers which fixture it came from)."""
    path = path or default_fixture_path()
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except OSError as exc:
        raise FixtureError(f"The sandbox fixture {path} cannot be read: {exc.strerror}.") from None
    except ValueError as exc:
        raise FixtureError(f"The sandbox fixture {path} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict) or data.get("schemaVersion") != SCHEMA_VERSION:
        raise FixtureError(f"The sandbox fixture {path} must be a JSON object with "
                           f"\"schemaVersion\": {SCHEMA_VERSION}.")
    for key in ("tenant", "apps", "users"):
        if key not in data:
            raise FixtureError(f"The sandbox fixture {path} has no \"{key}\".")
    return data, hashlib.sha256(raw).hexdigest()


def load_fixture(raw: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """Build the sandbox state from a fixture."""
    now = now or datetime.now(UTC)
    fx = resolve_relative(copy.deepcopy(raw), now)
    tenant = fx["tenant"]
    state: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "tenant": tenant,
        "apps": fx["apps"],
        "options": {"graphPageSize": 100, "exoPageSize": 100, "auditQueryDelayS": 1.0, **fx.get("options", {})},
        "users": [], "groups": fx.get("groups", []), "directoryRoles": fx.get("directoryRoles", []),
        "servicePrincipals": fx.get("servicePrincipals", []),
        "oauth2PermissionGrants": fx.get("oauth2PermissionGrants", []),
        "signIns": list(fx.get("signIns", [])), "riskyUsers": [], "authenticationMethods": {}, "mailboxes": {},
        "blockedSenders": fx.get("blockedSenders", []), "mailContacts": fx.get("mailContacts", []),
        "organizationConfig": {"AuditDisabled": False, **fx.get("organizationConfig", {})},
        "alerts": fx.get("alerts", []), "auditRecords": list(fx.get("auditRecords", [])), "auditQueries": [],
        "directoryAudits": [], "signInPreferences": {},
        "schedule": fx.get("schedule", []),
    }
    for user in fx["users"]:
        _load_user(state, dict(user), now)
    state["signIns"].sort(key=lambda s: s["createdDateTime"], reverse=True)
    state["auditRecords"].sort(key=lambda r: r["createdDateTime"], reverse=True)
    state["directoryAudits"].sort(key=lambda r: r["activityDateTime"], reverse=True)
    state["secureScores"], state["secureScoreControlProfiles"] = _secure_score(fx.get("secureScore"), tenant, now)
    return state


def _load_user(state: dict[str, Any], user: dict[str, Any], now: datetime) -> None:
    for key in ("id", "userPrincipalName", "displayName"):
        if key not in user:
            raise FixtureError(f"A fixture user is missing \"{key}\".")
    uid, upn, name = user["id"], user["userPrincipalName"], user["displayName"]
    methods = user.pop("authenticationMethods", None)
    mailbox = user.pop("mailbox", {})
    risk = user.pop("risk", None)
    sign_ins = user.pop("signIns", [])
    records = user.pop("auditRecords", [])
    directory_audits = user.pop("directoryAudits", [])
    preferences = user.pop("signInPreferences", None)
    user.setdefault("mail", upn)
    user.setdefault("accountEnabled", True)
    user.setdefault("userType", "Member")
    user.setdefault("businessPhones", [])
    for key in ("givenName", "surname", "jobTitle", "mobilePhone", "officeLocation", "preferredLanguage",
                "department", "usageLocation", "lastPasswordChangeDateTime", "signInSessionsValidFromDateTime"):
        user.setdefault(key, None)
    user.setdefault("createdDateTime", iso(now - timedelta(days=400)))
    user.setdefault("signInActivity", None)
    state["users"].append(user)
    if methods is None:
        methods = [{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
                    "id": "28c10230-6103-485e-b985-444c60001490", "createdDateTime": user["createdDateTime"]}]
    for m in methods:
        m.setdefault("createdDateTime", None)
    state["authenticationMethods"][uid] = methods
    if preferences is not None:
        state["signInPreferences"][uid] = {"isSystemPreferredAuthenticationMethodEnabled": False,
                                           "userPreferredMethodForSecondaryAuthentication": None, **preferences}
    for i, event in enumerate(directory_audits):
        state["directoryAudits"].append(_directory_audit(state, user, i, event))
    if mailbox is not None:
        state["mailboxes"][uid] = _mailbox(uid, upn, mailbox)
    if risk:
        state["riskyUsers"].append({"id": uid, "isDeleted": False, "isProcessing": False, "riskDetail": "none",
                                    "userDisplayName": name, "userPrincipalName": upn, **risk})
    for i, s in enumerate(sign_ins):
        state["signIns"].append({
            "id": str(uuid.uuid5(_NS, f"signin/{uid}/{i}")), "userId": uid, "userPrincipalName": upn,
            "userDisplayName": name, "appId": "00000002-0000-0ff1-ce00-000000000000",
            "appDisplayName": "Office 365 Exchange Online", "clientAppUsed": "Browser", "isInteractive": True,
            "conditionalAccessStatus": "notApplied", "correlationId": str(uuid.uuid5(_NS, f"corr/{uid}/{i}")),
            "riskDetail": "none", "riskLevelAggregated": "none", "riskLevelDuringSignIn": "none", "riskState": "none",
            "riskEventTypes_v2": [], "resourceDisplayName": "Office 365 Exchange Online",
            "status": {"errorCode": 0, "failureReason": "Other.", "additionalDetails": None},
            "deviceDetail": {"deviceId": "", "displayName": "", "operatingSystem": "Windows 10", "browser": "Edge 120",
                             "isCompliant": False, "isManaged": False, "trustType": ""},
            **s})
    for i, r in enumerate(records):
        state["auditRecords"].append({
            "id": str(uuid.uuid5(_NS, f"audit/{uid}/{i}")), "userId": upn, "userPrincipalName": upn,
            "organizationId": state["tenant"]["id"], "userType": "regular", "service": "Exchange",
            "objectId": upn, "administrativeUnits": [], "auditData": {}, **r})


def _directory_audit(state: dict[str, Any], user: dict[str, Any], i: int, event: dict[str, Any]) -> dict[str, Any]:
    """A directory audit event about the user (e.g. "User registered security info"): the user is the target,
    and the initiator is the user too unless the fixture names another (an admin, with `initiatedBy`)."""
    uid, upn = user["id"], user["userPrincipalName"]
    ip = event.pop("ipAddress", None)
    initiator = event.pop("initiatedBy", None) or {"user": {"id": uid, "displayName": None, "userPrincipalName": upn,
                                                            "ipAddress": ip, "userType": None,
                                                            "homeTenantId": None, "homeTenantName": None}}
    return {
        "id": f"Directory_{uuid.uuid5(_NS, f'diraudit/{uid}/{i}')}", "category": "UserManagement",
        "correlationId": str(uuid.uuid5(_NS, f"diraudit-corr/{uid}/{i}")), "result": "success",
        "loggedByService": "Authentication Methods", "operationType": "Add", "additionalDetails": [],
        "initiatedBy": initiator,
        "targetResources": [{"id": uid, "displayName": user["displayName"], "type": "User", "userPrincipalName": upn,
                             "groupType": None, "modifiedProperties": []}],
        **event,
    }


# Rules Exchange keeps in every mailbox for itself: hidden, listed only by Get-InboxRule -IncludeHidden.
JUNK_RULE = {"name": "Junk E-Mail Rule", "hidden": True, "system": True}
# Automatic replies (out of office) are rules too, named Microsoft.Exchange.OOF.*, while they are set up.
OOF_RULES = ({"name": "Microsoft.Exchange.OOF.KnownSenders.Template", "hidden": True, "system": True},
             {"name": "Microsoft.Exchange.OOF.AllExternalSenders.Template", "hidden": True, "system": True})


def _mailbox(uid: str, upn: str, mb: dict[str, Any]) -> dict[str, Any]:
    rules = []
    system = [JUNK_RULE, *(OOF_RULES if mb.get("automaticReplies") else ())]
    for i, rule in enumerate([*mb.get("inboxRules", []), *system]):
        rules.append({"id": rule.get("id") or f"AQAAA{i:03d}=", "ruleIdentity": str(rule.get("ruleIdentity", 1000 + i)),
                      "name": rule["name"], "enabled": rule.get("enabled", True), "hidden": rule.get("hidden", False),
                      "priority": rule.get("priority", i + 1), "conditions": rule.get("conditions", {}),
                      "actions": rule.get("actions", {})})
    cas = {"imapEnabled": True, "popEnabled": True, "ewsEnabled": True, "activeSyncEnabled": True,
           "mapiEnabled": True, "owaEnabled": True, "smtpClientAuthenticationDisabled": None, **mb.get("cas", {})}
    return {
        "userId": uid, "alias": mb.get("alias", upn.split("@")[0]),
        "guid": mb.get("guid", str(uuid.uuid5(_NS, f"mailbox/{uid}"))),
        "forwardingSmtpAddress": mb.get("forwardingSmtpAddress"), "forwardingAddress": mb.get("forwardingAddress"),
        "deliverToMailboxAndForward": mb.get("deliverToMailboxAndForward", False),
        # Auditing on by default (every tenant since 2019) leaves AuditEnabled False: it means nothing then.
        "auditEnabled": mb.get("auditEnabled", False), "auditBypassEnabled": mb.get("auditBypassEnabled", False),
        "grantSendOnBehalfTo": mb.get("grantSendOnBehalfTo", []),
        "fullAccess": [{"user": u, "inheritanceType": "All", "deny": False} for u in mb.get("fullAccess", [])],
        "sendAs": [{"trustee": t} for t in mb.get("sendAs", [])],
        "cas": cas, "inboxRules": rules,
    }


def _secure_score(spec: dict[str, Any] | None, tenant: dict[str, Any],
                  now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not spec:
        return [], []
    controls = spec.get("controls", [])
    profiles = [{
        "id": c["controlName"], "azureTenantId": tenant["id"], "actionType": c.get("actionType", "Config"),
        "actionUrl": c.get("actionUrl"), "controlCategory": c["controlCategory"], "title": c["title"],
        "complianceInformation": [], "controlStateUpdates": [], "deprecated": False,
        "implementationCost": c.get("implementationCost", "Low"), "lastModifiedDateTime": None,
        "maxScore": float(c["maxScore"]), "rank": c.get("rank", i + 1), "remediation": c.get("remediation", ""),
        "remediationImpact": c.get("remediationImpact", ""), "service": c.get("service", "AzureAD"),
        "threats": c.get("threats", []), "tier": c.get("tier", "Core"), "userImpact": c.get("userImpact", "Low"),
        "vendorInformation": {"provider": "SecureScore", "providerVersion": None, "subProvider": None,
                              "vendor": "Microsoft"},
    } for i, c in enumerate(controls)]
    max_score = sum(float(c["maxScore"]) for c in controls)
    day0 = now.replace(hour=2, minute=0, second=0, microsecond=0)
    if day0 > now:
        day0 -= timedelta(days=1)
    history = []
    for d in range(int(spec.get("days", 30))):
        scores = []
        for c in controls:
            before = c.get("scoreBefore")
            score = float(before["score"]) if before and d >= int(before["daysAgo"]) else float(c["score"])
            pct = round(100.0 * score / float(c["maxScore"]), 2) if c["maxScore"] else 0.0
            scores.append({"controlCategory": c["controlCategory"], "controlName": c["controlName"],
                           "description": c.get("description", c["title"]), "score": score,
                           "scoreInPercentage": pct, "implementationStatus": c.get("implementationStatus", ""),
                           "lastSynced": iso(day0 - timedelta(days=d)), "on": iso(day0 - timedelta(days=d))})
        history.append({
            "id": f"{tenant['id']}_{(day0 - timedelta(days=d)).date().isoformat()}", "azureTenantId": tenant["id"],
            "activeUserCount": spec.get("activeUserCount", 0), "licensedUserCount": spec.get("licensedUserCount", 0),
            "createdDateTime": iso(day0 - timedelta(days=d)), "currentScore": round(sum(s["score"] for s in scores), 2),
            "maxScore": max_score, "enabledServices": spec.get("enabledServices", []),
            "averageComparativeScores": spec.get("averageComparativeScores", []), "controlScores": scores,
            "vendorInformation": {"provider": "SecureScore", "providerVersion": None, "subProvider": None,
                                  "vendor": "Microsoft"},
        })
    return history, profiles
