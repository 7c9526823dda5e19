"""A recording Bot Connector stand-in on loopback, used as the activities' serviceUrl.

It implements the four Connector calls the bot makes and records every one:

    POST /v3/conversations                                   create a 1:1 conversation
    POST /v3/conversations/{id}/activities                   send to a conversation
    POST /v3/conversations/{id}/activities/{activityId}      reply to an activity
    PUT  /v3/conversations/{id}/activities/{activityId}      update an activity (a card in place)

`sent[conversation_id]` lists new messages (sends and replies), `updates[conversation_id]` the
updates, `created` the conversation parameters, `authorizations` every Authorization header seen.

Like Teams, it refuses a message over the size limit (413 MessageSizeTooBig) and a conversation posted
to too fast (429 Throttled with Retry-After): `limits` (sandbox.teams_connector) decides, before any
handler records the call, and keeps every refusal in `limits.refused`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from typing import Any

from aiohttp import web

from sandbox.teams_connector import ConnectorLimits, conversation_key


class RecordingConnector:
    def __init__(self) -> None:
        self.sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.updates: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.created: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self._changed = asyncio.Event()
        self.limits = ConnectorLimits()

    # -- server -------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._teams_limits])
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._reply)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        return app

    async def start(self) -> RecordingConnector:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- handlers -----------------------------------------------------------------------------------

    @web.middleware
    async def _teams_limits(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method in ("POST", "PUT"):
            refusal = self.limits.check(conversation_key(request.path), await request.text())
            if refusal is not None:
                return refusal
        return await handler(request)  # type: ignore[no-any-return]

    def _record_auth(self, request: web.Request) -> None:
        self.authorizations.append(request.headers.get("Authorization"))

    def _next_id(self) -> str:
        # Called once the call is recorded: wake waiters only when the record is complete.
        self._changed.set()
        return f"act-{next(self._ids)}"

    async def _create(self, request: web.Request) -> web.Response:
        self._record_auth(request)
        body = await request.json()
        self.created.append(body)
        conversation_id = f"a:personal-{len(self.created)}"
        return web.json_response({"id": conversation_id, "activityId": self._next_id()}, status=201)

    async def _send(self, request: web.Request) -> web.Response:
        self._record_auth(request)
        body = await request.json()
        self.sent[request.match_info["conversation"]].append(body)
        body["id"] = new_id = self._next_id()  # what the bot was told: tests click on this card
        return web.json_response({"id": new_id}, status=201)

    async def _reply(self, request: web.Request) -> web.Response:
        self._record_auth(request)
        body = await request.json()
        body.setdefault("replyToId", request.match_info["activity"])
        self.sent[request.match_info["conversation"]].append(body)
        body["id"] = new_id = self._next_id()
        return web.json_response({"id": new_id}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        self._record_auth(request)
        body = await request.json()
        body["id"] = request.match_info["activity"]
        self.updates[request.match_info["conversation"]].append(body)
        self._changed.set()
        return web.json_response({"id": request.match_info["activity"]}, status=200)

    # -- helpers for tests --------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return (sum(len(v) for v in self.sent.values()) + sum(len(v) for v in self.updates.values())
                + len(self.created))

    def texts(self, conversation_id: str) -> list[str]:
        return [a.get("text") or "" for a in self.sent.get(conversation_id, [])]

    async def wait_for(self, predicate: Any, timeout_s: float = 5.0) -> None:
        """Wait until `predicate(self)` holds (for work the bot does after acknowledging)."""
        async with asyncio.timeout(timeout_s):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()
