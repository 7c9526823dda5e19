"""Benchmark of the bot's transport: cold start, idle memory, turn latency against a bare botbuilder
echo bot on the same adapter, and the acknowledgement time of 50 concurrent card clicks.

    .venv/bin/python bench/bot.py [--turns 200] [--clicks 50] [--rounds 5]

Targets: cold_start_s <= 3, idle_rss_mb <= 150, turn_p50_ms / echo_turn_p50_ms <= 1.3,
invoke_ack_p99_ms < 300. The last line is JSON. Whatever flows bot.create_app wires (stubs today,
the investigation and approvals later) are what gets measured: the benchmark posts real activities.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aiohttp import ClientSession, web  # noqa: E402

from tests.support import activities, people  # noqa: E402
from tests.support.connector import RecordingConnector  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def cold_start(connector: RecordingConnector, home: Path) -> tuple[float, float]:
    """Process start to the first served turn, then resident memory after a second of idling."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "CONTAIN_"))}
    env.update({"CONTAIN_HOME": str(home), "HOST": "127.0.0.1", "PORT": str(port), "CONTAIN_LOG_LEVEL": "WARNING"})
    started = time.perf_counter()
    # Popen only forks; the wait for the first turn below is asynchronous.
    proc = subprocess.Popen([sys.executable, "-c", "import sys, bot; sys.exit(bot.main(['serve']))"],  # noqa: ASYNC220
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    activity = activities.message("help", service_url=connector.url)
    try:
        async with ClientSession() as session:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"contain serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
                try:
                    async with session.post(f"http://127.0.0.1:{port}/api/messages", json=activity) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1.0)
        return elapsed, _rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _echo_app(adapter: Any) -> web.Application:
    """The reference: botbuilder's own ActivityHandler echo, served by CloudAdapter.process."""
    from botbuilder.core import ActivityHandler, MessageFactory, TurnContext

    class Echo(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.send_activity(MessageFactory.text(turn_context.activity.text or ""))

    bot = Echo()

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await adapter.process(request, bot)
        return response or web.Response(status=200)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    return app


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/api/messages"


async def _timed_posts(url: str, bodies: list[dict[str, Any]], concurrent: bool = False,
                       settle: Any = None) -> list[float]:
    """Time each turn from request to answer. `settle` (untimed) waits for the work a turn starts after
    its answer (the investigation): that is Graph's time, not the turn's, and it must not overlap the
    next timed turn."""
    async with ClientSession() as session:
        async def one(body: dict[str, Any]) -> float:
            t0 = time.perf_counter()
            async with session.post(url, json=body) as response:
                await response.read()
                if response.status not in (200, 201):
                    raise SystemExit(f"turn answered {response.status}")
            elapsed = (time.perf_counter() - t0) * 1000
            if settle is not None:
                await settle()
            return elapsed

        if concurrent:
            return list(await asyncio.gather(*(one(b) for b in bodies)))
        return [await one(b) for b in bodies]


async def in_process(connector: RecordingConnector, home: Path, turns: int, clicks: int, rounds: int
                     ) -> dict[str, float]:
    import bot
    from dialogs.web import PARTS_KEY
    from services.settings import load_settings

    settings = load_settings({"CONTAIN_HOME": str(home), "CONTAIN_LOG_LEVEL": "WARNING"})
    try:
        runtime_cm: Any = bot.build_runtime(settings)
        runtime = await runtime_cm.__aenter__()
    except ImportError:  # the tenant layer is not there yet: measure the transport alone
        from tests.support.botfixtures import bare_runtime

        runtime_cm, runtime = None, bare_runtime(settings)
    try:
        adapter = bot.build_adapter(settings)
        app = bot.create_app(runtime, adapter=adapter)
        ours, ours_url = await _serve(app)
        echo, echo_url = await _serve(_echo_app(adapter))
        # A real responder of the sandbox tenant, so the turn is the command's real path (responder check,
        # replay check, the "Investigating…" answer), not a refusal.
        command = [activities.message("/compromised alice", service_url=connector.url, user=people.DAVE)
                   for _ in range(turns)]
        echo_bodies = [activities.message("/compromised alice", service_url=connector.url, user=people.DAVE)
                       for _ in range(turns)]
        settle = app[PARTS_KEY].gateway.drain
        await _timed_posts(ours_url, command[:10], settle=settle)  # warm both paths
        await _timed_posts(echo_url, echo_bodies[:10])
        turn = await _timed_posts(ours_url, command, settle=settle)
        echo_turn = await _timed_posts(echo_url, echo_bodies)
        acks: list[float] = []
        for _ in range(rounds):
            bodies = [activities.invoke("confirm", {"request": f"req-{i}"}, service_url=connector.url)
                      for i in range(clicks)]
            acks += await _timed_posts(ours_url, bodies, concurrent=True)
        await ours.cleanup()
        await echo.cleanup()
    finally:
        if runtime_cm is not None:
            await runtime_cm.__aexit__(None, None, None)
    acks.sort()
    return {
        "turn_p50_ms": statistics.median(turn),
        "echo_turn_p50_ms": statistics.median(echo_turn),
        "invoke_ack_p99_ms": acks[min(len(acks) - 1, int(len(acks) * 0.99))],
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    connector = await RecordingConnector().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cold_s, rss = await cold_start(connector, Path(tmp) / "cold")
            timings = await in_process(connector, Path(tmp) / "warm", args.turns, args.clicks, args.rounds)
    finally:
        await connector.stop()
    result = {"cold_start_s": round(cold_s, 3), "idle_rss_mb": round(rss, 1),
              **{k: round(v, 2) for k, v in timings.items()}}
    ratio = result["turn_p50_ms"] / result["echo_turn_p50_ms"]
    print(f"{'measure':<22}{'value':>10}  target")
    print(f"{'cold start (s)':<22}{result['cold_start_s']:>10}  <= 3")
    print(f"{'idle RSS (MB)':<22}{result['idle_rss_mb']:>10}  <= 150")
    print(f"{'turn p50 (ms)':<22}{result['turn_p50_ms']:>10}  ratio {ratio:.2f} <= 1.3")
    print(f"{'echo turn p50 (ms)':<22}{result['echo_turn_p50_ms']:>10}")
    print(f"{'invoke ack p99 (ms)':<22}{result['invoke_ack_p99_ms']:>10}  < 300 ({args.clicks} concurrent)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
