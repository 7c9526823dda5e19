"""A representative run of everything Contain sends to a tenant, against sandboxes whose request logs
keep bodies, one per fixture (contoso and fabrikam): resolving names, an investigation of every fixture
user, the responders check, every containment action (and a second run for the ones that only apply
after another), the undo of every undoable one, the closing summary, both alert pollers and
`contain doctor`.

The conformance tests read the log this returns; they never see how it was produced.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from sandbox.records import RequestRecord
from services.vocabulary import ActionId, ActionStatus, Actor, UserRef

RESPONDER = Actor("cli:conformance", "Conformance Responder")
FIXTURE_DIR = Path(__file__).resolve().parents[2] / "sandbox" / "fixtures"


async def _user(rt: Any, upn: str) -> UserRef:
    found = await rt.tenant.get_user(user_id=upn)
    assert found is not None, upn
    return found  # type: ignore[no-any-return]


async def _contain(rt: Any, upn: str, actions: list[ActionId]) -> None:
    """Open an incident on `upn`, run `actions`, then undo each one the catalog can undo."""
    from services.actions.engine import run_direct, undo_request
    from services.findings.investigation import investigate
    from services.store import incidents
    from services.store import requests as request_repo
    from services.store.records import IncidentSource

    who = await _user(rt, upn)
    inv = await investigate(tenant=rt.tenant, user=who)
    incident = (await incidents.open_incident(rt.store, target=who, source=IncidentSource.COMMAND,
                                              opened_by=RESPONDER, investigation=inv.to_json(),
                                              target_is_admin=inv.is_admin)).incident
    results = await run_direct(tenant=rt.tenant, writer=rt.writer, store=rt.store, incident=incident, user=who,
                               actions=actions,
                               actor=RESPONDER, approver=RESPONDER, override_unblock=True)
    done = {r.action for r in results if r.status is ActionStatus.SUCCEEDED}
    for request in await request_repo.for_incident(rt.store, incident_id=incident.id):
        if ActionId(request.action) in done:
            try:
                await undo_request(tenant=rt.tenant, writer=rt.writer, store=rt.store, request_id=request.id,
                                   actor=RESPONDER,
                                   approver=RESPONDER)
            except (ValueError, NotImplementedError):
                pass  # not undoable: nothing to send
    await _summary(rt, incident)


async def _summary(rt: Any, incident: Any) -> None:
    from services.summary.build import build_summary

    await build_summary(tenant=rt.tenant, store=rt.store, incident=incident, audit_wait_s=5.0)


async def _doctor(rt: Any) -> None:
    from services import doctor

    info = rt.sandbox.info()
    await doctor.run(tenant=rt.tenant, tokens=rt.tokens, store=rt.store, client_id=rt.endpoints.client_id,
                     authority=rt.endpoints.authority, tenant_line="sandbox",
                     responders_group_id=info.get("respondersGroupId"), channel_id=None, channel_required=False)


async def _alerts(rt: Any) -> None:
    from services.alerts.poll import poll_defender_alerts, poll_risky_users

    lookback = timedelta(days=30)
    await poll_risky_users(store=rt.store, tenant=rt.tenant, min_risk="low", initial_lookback=lookback)
    await poll_defender_alerts(store=rt.store, tenant=rt.tenant, initial_lookback=lookback)


async def _names(rt: Any, users: list[dict[str, Any]], *, skip: set[str]) -> None:
    from services.approvals.responders import responder_check
    from services.findings.investigation import investigate
    from services.findings.resolve import resolve

    for query in ("alice", "Alice", "alice@contoso.com", "al", "nobody-here"):
        await resolve(rt.tenant, query)
    found = await asyncio.gather(*(_user(rt, u["userPrincipalName"]) for u in users))
    await asyncio.gather(*(investigate(tenant=rt.tenant, user=who) for who in found
                           if who.user_principal_name not in skip))
    group = rt.sandbox.info().get("respondersGroupId")
    if group:
        check = responder_check(tenant=rt.tenant, group_id=group)
        await asyncio.gather(*(check(who.id) for who in found[:3]))


EVERYTHING = [a for a in ActionId if a is not ActionId.UNBLOCK_SIGNIN]


async def contoso(rt: Any) -> None:
    """The default tenant: every read path, then Alice (every finding kind) and Carol (an admin role)
    contained; blocking comes before unblocking."""
    users = list(rt.sandbox.state.data["users"])
    contained = {"alice@contoso.com", "carol@contoso.com"}  # investigated when contained, below
    await asyncio.gather(_names(rt, users, skip=contained), _doctor(rt), _alerts(rt))
    await asyncio.gather(_contain(rt, "alice@contoso.com", EVERYTHING),
                         _contain(rt, "carol@contoso.com", [ActionId.REMOVE_ADMIN_ROLES, ActionId.BLOCK_SIGNIN]))
    await _contain(rt, "carol@contoso.com", [ActionId.UNBLOCK_SIGNIN])


async def fabrikam(rt: Any) -> None:
    """The second tenant: synced, federated and guest accounts, quoted UPNs, audit-dated methods; every
    user investigated and the synced one contained."""
    await _names(rt, list(rt.sandbox.state.data["users"]), skip={"lena@fabrikam.com"})
    await _contain(rt, "lena@fabrikam.com", EVERYTHING)


FIXTURES = {"contoso": contoso, "fabrikam": fabrikam}


async def scenario(home: Path, fixture: str = "contoso") -> list[RequestRecord]:
    """Run everything on one sandbox fixture; the sandbox's request log (bodies kept)."""
    from bot import build_runtime
    from services.settings import load_settings

    env = {"CONTAIN_HOME": str(home / fixture)}
    if fixture != "contoso":
        env["CONTAIN_SANDBOX_FIXTURE"] = str(FIXTURE_DIR / f"{fixture}.json")
    async with build_runtime(load_settings(env), sandbox_overrides={"persist": False, "keep_bodies": True}) as rt:
        rt.sandbox.state.options["auditQueryDelayS"] = 0.0  # the summary's audit query completes at once
        await FIXTURES[fixture](rt)
        return list(rt.sandbox.request_log)


def run_scenario(home: Path) -> list[RequestRecord]:
    """The scenario on every fixture, in a loop of its own (the fixture that calls it is shared by a
    whole package)."""
    async def both() -> list[RequestRecord]:
        # One after the other: two stores migrating at once in one process trip over alembic's globals.
        return [record for name in FIXTURES for record in await scenario(home, name)]

    return asyncio.run(both())
