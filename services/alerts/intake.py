"""Alert intake: from a detector's alert to "open a new thread" or "reply in the account's thread".

Alerts come from the signed webhook (`accept_webhook`) and from the Identity Protection and Defender
pollers (services.alerts.poll). Each goes through `ingest`, which records it once per (source, alert
id), resolves the account, and either opens an incident (investigated, ready for a new channel
thread) or attaches the alert to the incident already open for that account. Posting is the bot's
job: it reads the returned IntakeResult and the incident's stored conversation reference.

Exactly-once rests on the database, not on reads: the alerts table's unique (source, alert id) and
the incidents table's one-open-incident-per-account index decide every race, across instances too.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from services.alerts import webhook
from services.alerts.webhook import WebhookRefused
from services.findings.investigation import investigate as run_investigation
from services.findings.resolve import resolve
from services.store import audit, dedupe, incidents
from services.store import intake as alert_rows
from services.store.db import Store
from services.store.intake import AlertRow
from services.store.records import Incident, IncidentSource
from services.tenant.errors import TenantError
from services.tenant.facade import Tenant
from services.vocabulary import Actor, FindingKind, Investigation, Resolved, UserRef

log = logging.getLogger(__name__)

ALERTS_ACTOR = Actor(id="contain", name="Contain alerts")
REPLAY_STATUS = 409  # a replay carries a valid signature: 401 would wrongly tell the sender its secret is bad
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SOURCE_LEN = 32  # the store keeps this much of a source name; dedupe and link must use the same key
RESOLVE_TTL_S = 60.0
_RESOLVE_CACHE_MAX = 5000
_resolved: weakref.WeakKeyDictionary[Tenant, dict[str, tuple[float, UserRef]]] = weakref.WeakKeyDictionary()


class IntakeStatus(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    # Never returned by ingest: a refused delivery raises WebhookRefused. Here for callers that report
    # every delivery in one shape (see describe_refusal).
    REFUSED = "refused"
    UNRESOLVED = "unresolved"


class Decision(StrEnum):
    NEW_THREAD = "new_thread"  # post the incident card as a new channel thread
    REPLY = "reply"  # reply in the thread of `incident_id` (its conversation_ref / card_activity_id)
    NONE = "none"


class AlertLike(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def alert_id(self) -> str: ...
    @property
    def account(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def title(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert, whatever its origin. `account` is a UPN, a mail address or an Entra object id."""

    source: str
    alert_id: str
    account: str
    severity: str
    title: str
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IntakeResult:
    status: IntakeStatus
    decision: Decision
    incident_id: str | None
    alert_id: str
    message: str
    source: str = ""
    # For the bot: the incident as it stood after intake, and (new threads only) the investigation
    # for the card. Reload the incident before posting a reply: the card may have been posted since.
    incident: Incident | None = field(default=None, compare=False, repr=False)
    investigation: Investigation | None = field(default=None, compare=False, repr=False)

    @property
    def needs_post(self) -> bool:
        return self.decision is not Decision.NONE


def source_key(source: str) -> str:
    return " ".join(source.split()).lower()[:_SOURCE_LEN]


async def resolve_account(tenant: Tenant, account: str) -> UserRef | None:
    """An object id is looked up directly; anything else goes through the responders' resolver, and
    only an unambiguous match counts (an alert never guesses between two people).

    A found account is remembered for a minute: a detector that fires in bursts names the same
    account again and again, and each lookup is a Graph round trip. Misses are not remembered."""
    cache = _resolved.setdefault(tenant, {})
    key = account.casefold()
    hit = cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < RESOLVE_TTL_S:
        return hit[1]
    if _GUID.match(account):
        user = await tenant.get_user(user_id=account)
    else:
        resolution = await resolve(tenant, account)
        user = resolution.user if isinstance(resolution, Resolved) else None
    if user is not None:
        if len(cache) >= _RESOLVE_CACHE_MAX:
            cache.clear()
        cache[key] = (time.monotonic(), user)
    return user


def _cutoff(inv: Investigation) -> datetime | None:
    for finding in inv.findings:
        if finding.kind is FindingKind.SUSPICIOUS_SIGNIN:
            raw = finding.details.get("firstSuspicious")
            if isinstance(raw, str):
                try:
                    return datetime.fromisoformat(raw.replace("Z", "+00:00"))
                except ValueError:
                    return None
    return None


async def ingest(*, store: Store, tenant: Tenant, alert: AlertLike, now: datetime | None = None,
                 investigate: bool = True) -> IntakeResult:
    """Record one alert and decide where it goes. Raises TenantError if the account could not be
    looked up (nothing is recorded then, so a retry is not mistaken for a duplicate)."""
    now = now or datetime.now(UTC)
    row = AlertRow(source=source_key(alert.source), alert_id=alert.alert_id[:256], account=alert.account,
                   severity=alert.severity, title=alert.title)
    user = None
    if not await alert_rows.known(store, source=row.source, alert_id=row.alert_id):
        user = await resolve_account(tenant, alert.account)
    recorded = await alert_rows.record(store, row=row, user=user, actor=ALERTS_ACTOR, now=now)
    if not recorded.inserted:
        return IntakeResult(IntakeStatus.DUPLICATE, Decision.NONE, None, row.alert_id,
                            "This alert was already received.", source=row.source)
    if user is None:
        return IntakeResult(IntakeStatus.UNRESOLVED, Decision.NONE, None, row.alert_id,
                            "The alert's account matches no single user in the tenant.", source=row.source)
    if recorded.incident is not None:
        return _reply(row, user, recorded.incident)

    opened = await incidents.open_incident(store, target=user, source=IncidentSource.ALERT, opened_by=ALERTS_ACTOR,
                                           now=now)
    incident = opened.incident
    await alert_rows.attach(store, row=row, user=user, incident_id=incident.id, created=opened.created,
                            actor=ALERTS_ACTOR, now=now)
    if not opened.created:  # another delivery opened it between our read and our insert
        return _reply(row, user, incident)
    inv: Investigation | None = None
    if investigate:
        inv, incident = await _investigate(store=store, tenant=tenant, incident=incident, user=user, now=now)
    return IntakeResult(IntakeStatus.ACCEPTED, Decision.NEW_THREAD, incident.id, row.alert_id,
                        f"Opened an incident for {user.display_name}.", source=row.source, incident=incident,
                        investigation=inv)


def _reply(row: AlertRow, user: UserRef, incident: Incident) -> IntakeResult:
    return IntakeResult(IntakeStatus.ACCEPTED, Decision.REPLY, incident.id, row.alert_id,
                        f"Added to the open incident for {user.display_name}.", source=row.source, incident=incident)


async def _investigate(*, store: Store, tenant: Tenant, incident: Incident, user: UserRef, now: datetime
                       ) -> tuple[Investigation | None, Incident]:
    """Investigate the new incident's account and store it. A failure leaves the incident open without
    an investigation (the card says so and a responder can rerun it) rather than losing the alert."""
    try:
        inv = await run_investigation(tenant=tenant, user=user, now=now)
    except TenantError as exc:
        log.warning("investigation for alert incident %s failed: %s", incident.id, exc.sentence)
        return None, incident
    except Exception:  # the alert is recorded and the incident open: it still needs its thread
        log.exception("investigation for alert incident %s failed", incident.id)
        return None, incident
    await incidents.set_investigation(store, incident_id=incident.id, investigation=inv.to_json(),
                                      target_is_admin=inv.is_admin, cutoff=_cutoff(inv), now=now)
    return inv, await incidents.get(store, incident_id=incident.id) or incident


# ---- the signed webhook ------------------------------------------------------------------------------

def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


async def accept_webhook(*, store: Store, tenant: Tenant, secret: str | None, headers: Mapping[str, str],
                         body: bytes, now: float, investigate: bool = True) -> IntakeResult:
    """Check a POST /api/alerts delivery and ingest it.

    Refusals raise WebhookRefused(status, one sentence): 413 too big, 401 missing, malformed, stale or
    wrong signature, 400 malformed alert, 409 replay (the same signed delivery again), 503 not
    configured or the tenant unreachable (re-sign with a fresh timestamp to retry). Every refusal and
    every accepted alert is audited; the body never is."""
    try:
        if not secret:
            raise WebhookRefused("The alert webhook is not configured (CONTAIN_WEBHOOK_SECRET is unset).", status=503)
        if len(body) > webhook.MAX_BODY_BYTES:
            raise WebhookRefused(f"The alert body is larger than {webhook.MAX_BODY_BYTES} bytes.", status=413)
        key = webhook.verify(secret=secret, timestamp=_header(headers, "X-Contain-Timestamp"),
                             signature=_header(headers, "X-Contain-Signature"), body=body, now=now)
        parsed = webhook.parse(body)
        at = datetime.fromtimestamp(now, UTC)
        if await dedupe.seen_delivery(store, signature=key, now=at):
            raise WebhookRefused("This delivery was already received; a replay is refused.", status=REPLAY_STATUS)
        try:
            return await ingest(store=store, tenant=tenant, alert=parsed, now=at, investigate=investigate)
        except TenantError as exc:
            log.warning("alert %s could not be ingested: %s", parsed.alert_id, exc.sentence)
            raise WebhookRefused("The tenant could not be reached; send the alert again with a fresh timestamp.",
                                 status=503) from None
    except WebhookRefused as refused:
        await _audit_refusal(store, refused, now=now)
        raise


async def _audit_refusal(store: Store, refused: WebhookRefused, *, now: float) -> None:
    try:
        await audit.record(store, actor=ALERTS_ACTOR, event="alert.refused", target="POST /api/alerts",
                           outcome=str(refused.status), detail=str(refused), at=datetime.fromtimestamp(now, UTC))
    except Exception:  # the refusal stands even if the audit write fails; say so in the log
        log.exception("could not audit a refused alert delivery")


def describe(result: IntakeResult) -> dict[str, Any]:
    """The JSON the webhook answers with (no account details: the sender already has them)."""
    return {"status": result.status.value, "decision": result.decision.value, "alert_id": result.alert_id,
            "incident_id": result.incident_id, "message": result.message}


def describe_refusal(refused: WebhookRefused) -> dict[str, Any]:
    """The JSON body for a refused delivery, in the same shape as `describe`."""
    return {"status": IntakeStatus.REFUSED.value, "decision": Decision.NONE.value, "alert_id": None,
            "incident_id": None, "message": str(refused)}
