"""Fixtures for alert threads: the real aiohttp app over the in-process sandbox, a recording Bot
Connector that also starts channel threads, and a signed-delivery helper."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.alerts.webhook import sign
from services.runtime import Tuning
from services.settings import load_settings
from tests.support import activities
from tests.support.connector import RecordingConnector
from tests.support.flowbot import FlowBot
from tests.support.people import DAVE

SECRET = "whsec-threads-test"
CHANNEL = "19:security@thread.tacv2"
ALICE_ID = "a11ce5a0-7f1e-4c2b-9d3e-5b8a1c0f2e61"


class ChannelConnector(RecordingConnector):
    """The recording connector, plus what Teams does for a create-conversation call that names a channel:
    a new thread whose id is "<channel>;messageid=<root activity id>", its root post being the activity."""

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel = ((body.get("channelData") or {}).get("channel") or {}).get("id")
        if not channel:
            return await super()._create(request)  # a 1:1 chat (the body is cached by aiohttp)
        self._record_auth(request)
        self.created.append(body)
        root = dict(body.get("activity") or {})
        root["id"] = activity_id = self._next_id()
        thread = f"{channel};messageid={activity_id}"
        self.sent[thread].append(root)
        return web.json_response({"id": thread, "activityId": activity_id}, status=201)

    def threads(self, channel: str = CHANNEL) -> list[str]:
        return [k for k in self.sent if k.startswith(channel + ";messageid=act-")]


def signed(body: dict[str, Any] | bytes, *, ts: float | None = None, secret: str = SECRET
           ) -> tuple[dict[str, str], bytes]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(ts if ts is not None else time.time()))
    return {"X-Contain-Timestamp": stamp, "X-Contain-Signature": sign(secret, stamp, raw),
            "Content-Type": "application/json"}, raw


def alert_body(alert_id: str, account: str = "alice@contoso.com", **extra: Any) -> dict[str, Any]:
    return {"alert_id": alert_id, "source": "siem", "account": account, "severity": "high",
            "title": "Impossible travel", **extra}


async def start_bot(tmp_path: Path, connector: RecordingConnector, **env: str) -> FlowBot:
    """FlowBot's app with the pollers left to the test (run_once) and the webhook secret set."""
    from bot import build_runtime, create_app

    settings = load_settings({"CONTAIN_HOME": str(tmp_path / "home"), "CONTAIN_WEBHOOK_SECRET": SECRET, **env})
    tuning = Tuning(summary_audit_wait_s=3.0, timer_interval_s=3600.0, poll_alerts=False)
    runtime_cm = build_runtime(settings, sandbox_overrides={"persist": False}, tuning=tuning)
    runtime = await runtime_cm.__aenter__()
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    return FlowBot(client=client, runtime=runtime, connector=connector, runtime_cm=runtime_cm)


@pytest.fixture
async def connector() -> AsyncIterator[ChannelConnector]:
    recording = ChannelConnector()
    await recording.start()
    yield recording
    await recording.stop()


@pytest.fixture
async def bot(tmp_path: Path, connector: ChannelConnector) -> AsyncIterator[FlowBot]:
    harness = await start_bot(tmp_path, connector)
    yield harness
    await harness.close()


async def choose_channel(bot: FlowBot, user: dict[str, Any] = DAVE) -> tuple[int, Any]:
    """The bot is added to the team (conversationUpdate), then a responder types set-channel there."""
    status, _ = await bot.post(activities.conversation_update(service_url=bot.connector.url))
    assert status == 200
    return await bot.say("/compromised set-channel", user=user)


@pytest.fixture
async def channel_bot(bot: FlowBot) -> FlowBot:
    status, _ = await choose_channel(bot)
    assert status == 200
    return bot


async def deliver(bot: FlowBot, body: dict[str, Any] | bytes, **kw: Any) -> tuple[int, Any]:
    """POST /api/alerts signed, then wait for the thread posts that follow the answer."""
    headers, raw = signed(body, **kw)
    response = await bot.client.post("/api/alerts", data=raw, headers=headers)
    out = await response.json()
    await threads_of(bot).drain()
    await bot.settle()
    return response.status, out


def threads_of(bot: FlowBot) -> Any:
    return bot.parts.alert_threads


def poller_of(bot: FlowBot) -> Any:
    return bot.parts.alert_poller


async def raise_in_sandbox(bot: FlowBot, user: str, *, kind: str = "defender", severity: str = "high") -> Any:
    async with httpx.AsyncClient(base_url=bot.runtime.sandbox.url) as client:
        response = await client.post("/_sandbox/alerts", json={"user": user, "kind": kind, "severity": severity})
    assert response.status_code == 201, response.text
    return response.json()
