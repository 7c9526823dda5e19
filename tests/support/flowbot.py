"""A harness for scenario tests of the conversation flows: the real aiohttp app built by bot.create_app
over the real composition root (in-process sandbox tenant, store, MSAL, msgraph-sdk), with the
recording Bot Connector stand-in as every activity's serviceUrl.

    bot = await FlowBot.start(tmp_path, connector)
    await bot.say("/compromised alice", user=DAVE)
    card = await bot.card_in_thread()
    status, body = await bot.click("contain.confirm", {"incident": ...}, inputs=..., user=DAVE)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from services.runtime import Runtime, Tuning
from services.settings import load_settings
from services.store import audit
from services.store import requests as request_repo
from services.store.records import PENDING_STATES, RequestState
from tests.support import activities
from tests.support.cardtree import elements
from tests.support.connector import RecordingConnector
from tests.support.people import DAVE

THREAD = "19:security@thread.tacv2;messageid=1700000000000"


@dataclass
class FlowBot:
    client: TestClient
    runtime: Runtime
    connector: RecordingConnector
    runtime_cm: Any

    @classmethod
    async def start(cls, tmp_path: Path, connector: RecordingConnector, **env: str) -> FlowBot:
        from bot import build_runtime, create_app

        settings = load_settings({"CONTAIN_HOME": str(tmp_path / "home"), **env})
        # The audit-log query of the summary is slow by nature (the sandbox answers at once anyway);
        # tests drive the timers with tick(now=…).
        tuning = Tuning(summary_audit_wait_s=3.0, timer_interval_s=3600.0)
        runtime_cm = build_runtime(settings, sandbox_overrides={"persist": False}, tuning=tuning)
        runtime = await runtime_cm.__aenter__()
        client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
        await client.start_server()
        return cls(client=client, runtime=runtime, connector=connector, runtime_cm=runtime_cm)

    async def close(self) -> None:
        await self.client.close()
        await self.runtime_cm.__aexit__(None, None, None)

    # -- handles ----------------------------------------------------------------------------------
    @property
    def flows(self) -> Any:
        return self.parts.flows

    @property
    def parts(self) -> Any:
        """What the app runs (dialogs.wiring.Parts): the flows, the alert threads, the poller, recovery."""
        from dialogs.web import PARTS_KEY

        return self.client.app[PARTS_KEY]

    @property
    def store(self) -> Any:
        return self.runtime.store

    @property
    def writes(self) -> list[Any]:
        """The sandbox tenant's write log: what reached the tenant."""
        return list(self.runtime.sandbox.write_log)

    # -- driving the bot ---------------------------------------------------------------------------
    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        response = await self.client.post("/api/messages", json=activity)
        body = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, body

    async def say(self, text: str, *, user: dict[str, Any] = DAVE, conversation_id: str = THREAD,
                  conversation_type: str = "channel") -> tuple[int, Any]:
        activity = activities.message(text, service_url=self.connector.url, conversation_id=conversation_id,
                                      conversation_type=conversation_type, user=user)
        out = await self.post(activity)
        await self.settle()
        return out

    def invoke(self, verb: str, data: dict[str, Any], *, user: dict[str, Any] = DAVE, card_id: str = "",
               conversation_id: str = THREAD, conversation_type: str = "channel") -> dict[str, Any]:
        return activities.invoke(verb, data, service_url=self.connector.url, conversation_id=conversation_id,
                                 conversation_type=conversation_type, user=user, card_id=card_id)

    async def click(self, verb: str, data: dict[str, Any], *, user: dict[str, Any] = DAVE, card_id: str = "",
                    conversation_id: str = THREAD, conversation_type: str = "channel") -> tuple[int, Any]:
        out = await self.post(self.invoke(verb, data, user=user, card_id=card_id, conversation_id=conversation_id,
                                          conversation_type=conversation_type))
        await self.settle()
        return out

    async def settle(self) -> None:
        """Let after-work finish, then run the worker until nothing is runnable (the background worker
        may be doing the same: claims are exclusive, so both together still run each request once)."""
        gateway = self.parts.gateway
        for _ in range(20):
            await gateway.drain()
            ran = await self.flows.worker.run_once()
            pending = [r for r in await request_repo.in_states(self.store, states=[RequestState.APPROVED,
                                                                                   RequestState.RUNNING])]
            if not ran and not pending and not gateway._tasks:
                return
            if pending and not ran:
                import asyncio

                await asyncio.sleep(0.05)
        raise AssertionError("the bot did not settle")

    # -- reading what the Bot Connector saw -----------------------------------------------------------
    def cards(self, conversation_id: str = THREAD) -> list[tuple[str, dict[str, Any]]]:
        """(activity id, card) for every card message posted in a conversation, in order."""
        return [(a.get("id") or "", att["content"]) for a in self.connector.sent.get(conversation_id, [])
                for att in a.get("attachments") or () if att.get("contentType", "").endswith("card.adaptive")]

    def updates(self, conversation_id: str = THREAD) -> list[dict[str, Any]]:
        return [u["attachments"][0]["content"] for u in self.connector.updates.get(conversation_id, [])
                if u.get("attachments")]

    def everything_sent(self, *, but: dict[str, Any] | None = None) -> str:
        """Every activity the bot sent, updated or created, as one string (`but`: leave that one out)."""
        sent = {k: [a for a in v if a is not but] for k, v in self.connector.sent.items()}
        return json.dumps({"sent": sent, "updates": self.connector.updates, "created": self.connector.created})

    async def audit_events(self) -> list[str]:
        return [e.event for e in await audit.recent(self.store, limit=500)]

    async def pending(self) -> list[Any]:
        return await request_repo.in_states(self.store, states=PENDING_STATES)


def texts(card: dict[str, Any]) -> str:
    """Every string in a card, joined: enough to assert on what a person would read."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "title", "value", "label") and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(out)


def actions_of(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Action.Execute in a card (nested show-cards and action sets included)."""
    return [node for node in elements(card) if node.get("type") == "Action.Execute"]


def action(card: dict[str, Any], verb: str) -> dict[str, Any]:
    [found] = [a for a in actions_of(card) if a.get("verb") == verb][:1] or [None]
    assert found is not None, f"no {verb} button on the card"
    return found


# -- steps most scenarios share -------------------------------------------------------------------

async def open_incident(bot: FlowBot, who: str, user_id: str, *, as_user: dict[str, Any] = DAVE) -> Any:
    """`/compromised <who>` and the incident it opened (closing an earlier one for the account first)."""
    from services.store import incidents as incident_repo
    from services.vocabulary import Actor

    earlier = await incident_repo.find_open(bot.store, target_user_id=user_id)
    if earlier is not None:
        await incident_repo.close(bot.store, incident_id=earlier.id, actor=Actor("system", "test"), reason="reset")
    status, _ = await bot.say(f"/compromised {who}", user=as_user)
    assert status == 200
    incident = await incident_repo.find_open(bot.store, target_user_id=user_id)
    assert incident is not None and incident.card_activity_id
    return incident


async def confirm(bot: FlowBot, incident: Any, actions: list[str], *, user: dict[str, Any] = DAVE) -> dict[str, Any]:
    """Press "Contain selected" with exactly `actions` toggled on; returns the Run button's data."""
    toggles = {f"act_{a}": "true" for a in actions}
    status, body = await bot.click("contain.confirm", {"incident": incident.id, **toggles}, user=user,
                                   card_id=incident.card_activity_id)
    assert status == 200
    return dict(action(body["value"], "contain.run")["data"])


async def run(bot: FlowBot, incident: Any, actions: list[str], *, user: dict[str, Any] = DAVE) -> Any:
    """Confirm and run `actions`; returns the batch id."""
    from services.store import requests as request_repo

    data = await confirm(bot, incident, actions, user=user)
    status, _ = await bot.click("contain.run", {**data, "reason": "test"}, user=user,
                                card_id=incident.card_activity_id)
    assert status == 200
    reqs = await request_repo.for_incident(bot.store, incident_id=incident.id)
    return max(reqs, key=lambda r: r.requested_at).batch_id
