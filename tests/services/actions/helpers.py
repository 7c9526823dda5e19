"""Helpers for the engine tests: alice, her incident, a run, and reading the sandbox's write log."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from services.actions.engine import run_direct
from services.findings.investigation import investigate
from services.runtime import Runtime
from services.store import incidents
from services.store.records import Incident, IncidentSource
from services.vocabulary import ActionId, ActionResult, Actor, UserRef

RESPONDER = Actor("cli:responder", "Rita Responder")
ALICE = "alice@contoso.com"


async def user(rt: Runtime, upn: str = ALICE) -> UserRef:
    found = await rt.tenant.get_user(user_id=upn)
    assert found is not None
    return found


async def incident_for(rt: Runtime, who: UserRef) -> Incident:
    inv = await investigate(tenant=rt.tenant, user=who)
    opened = await incidents.open_incident(rt.store, target=who, source=IncidentSource.COMMAND, opened_by=RESPONDER,
                                           investigation=inv.to_json(), target_is_admin=inv.is_admin)
    return opened.incident


async def run(rt: Runtime, incident: Incident, who: UserRef, actions: list[ActionId], **kw: Any) -> list[ActionResult]:
    return await run_direct(tenant=rt.tenant, writer=rt.writer, store=rt.store, incident=incident, user=who,
                            actions=actions,
                            actor=RESPONDER, **kw)


def writes(rt: Runtime) -> list[Any]:
    return list(rt.sandbox.write_log)


def applied_twice(records: list[Any]) -> list[tuple[str, str | None, str]]:
    """Writes that landed more than once with the same route, target and body."""
    keys = Counter((w.route, w.target, json.dumps(w.body, sort_keys=True)) for w in records)
    return [k for k, n in keys.items() if n > 1]


def by_status(results: list[ActionResult]) -> dict[str, str]:
    return {r.action.value: r.status.value for r in results}
