"""`make demo`: the sandbox tenant, the bot on 127.0.0.1:3978 and two Microsoft 365 Agents Playgrounds.

Everything stays on loopback. http://localhost:56150 is Dave's Playground and http://localhost:56151
Erin's (both responders in the sandbox tenant), so one person can play the requester and the second
approver. Ctrl-C stops everything.

The helpers here also start the Playground for the end-to-end test (tests/e2e) and for
bench/screenshots.py. Facts about the Playground (npm @microsoft/m365agentsplayground 0.2.28) they rely
on, read from its server:
- one process is one simulated tenant with one signed-in user (`currentUser` in its config, chosen by
  M365_AGENTS_PLAYGROUND_CONFIG_PATH); there is no user switcher, so a second responder needs a second
  process with its own config;
- one port serves its web page, its conversation API (`/_conversation/v1/...`), a websocket streaming
  the bot's messages and in-place updates (`/_ws_conversation/v1/conversations/stream`) and a Bot
  Connector stand-in (`/_connector/v3/...`: the serviceUrl the bot answers to, update_activity and
  POST /v3/conversations included);
- asked for a port that is taken it silently picks a random one, and it listens on every interface:
  callers check the port first, and the loopback preload below pins it to 127.0.0.1;
- it opens a browser unless TEAMSAPPTESTER_BROWSER=none, and writes every activity (the sandbox's
  temporary-password message too) to the file named by M365_AGENTS_PLAYGROUND_LOGFILE, kept here under
  CONTAIN_HOME;
- its connector accepts any size and any pace, where Teams refuses a message over its size limit (413)
  and a conversation posted to too fast (429). So each Playground is started with `--service-url`
  naming a loopback guard (sandbox.teams_connector.ConnectorGuard) that enforces both and forwards the
  rest to the Playground's own connector: the bot meets Teams' limits in the demo too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from sandbox.teams_connector import ConnectorGuard

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CLI = REPO / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
CONFIG = REPO / ".m365agentsplayground.yml"

# Node preload: the Playground calls server.listen(port) with no host, i.e. every interface. Pin every
# listening socket it opens (its port probe too) to loopback; it can impersonate any configured user.
LOOPBACK_PRELOAD = """\
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" && typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
  else if (args[0] && typeof args[0] === "object" && args[0].port !== undefined && !args[0].host)
    args[0] = { ...args[0], host: "127.0.0.1" };
  return listen.apply(this, args);
};
"""


class PlaygroundError(RuntimeError):
    """The Playground cannot run here; the message is one sentence saying why and what to do."""


@dataclass(frozen=True, slots=True)
class Seat:
    """One Playground: who is signed in to it and where it serves."""

    name: str
    upn: str
    port: int

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def personal_chat_id(self) -> str:
        return f"contain-personal-chat-{self.upn.split('@', 1)[0]}"


def swap_current_user(text: str, upn: str) -> str:
    """The Playground config with the user whose UPN is `upn` as currentUser (and the former current
    user in their place in `users`). The Playground has no user switcher, so a second identity needs a
    second config. The file is YAML, but swapping values line by line keeps its comments and needs no
    YAML library."""
    lines = text.splitlines()
    current: dict[str, int] = {}
    i = lines.index("currentUser:") + 1
    while i < len(lines) and lines[i].startswith("  ") and not lines[i].startswith("  - "):
        current[lines[i].split(":", 1)[0].strip()] = i
        i += 1
    if f"userPrincipleName: {upn}" in [lines[j].strip() for j in current.values()]:
        return "\n".join(lines) + "\n"  # already the current user
    other: dict[str, int] = {}
    block: dict[str, int] = {}
    for index in range(lines.index("users:") + 1, len(lines)):
        line = lines[index]
        if not line.startswith("  "):
            break
        if line.startswith("  - "):
            if f"userPrincipleName: {upn}" in [lines[j].strip() for j in block.values()]:
                break
            block = {}
        block[line.removeprefix("  - ").split(":", 1)[0].strip()] = index
    if f"userPrincipleName: {upn}" in [lines[j].strip() for j in block.values()]:
        other = block
    if not other:
        raise ValueError(f"{upn} is not in the Playground config's users")
    for key, at in current.items():
        there = other[key]
        mine, theirs = lines[at].split(":", 1)[1], lines[there].split(":", 1)[1]
        lines[at] = lines[at].split(":", 1)[0] + ":" + theirs
        lines[there] = lines[there].split(":", 1)[0] + ":" + mine
    return "\n".join(lines) + "\n"


def seat_config(text: str, seat: Seat) -> str:
    """The shipped config for one seat: `seat` signed in, and a personal chat id of its own. Two
    Playgrounds otherwise both call their 1:1 chat "contain-personal-chat", and the bot would take the
    second responder's chat for the first one's."""
    swapped = swap_current_user(text, seat.upn).splitlines()
    at = swapped.index("personalChat:") + 1
    if not swapped[at].strip().startswith("id:"):
        raise ValueError("the Playground config's personalChat has no id")
    swapped[at] = f"  id: {seat.personal_chat_id}"
    return "\n".join(swapped) + "\n"


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port (SO_REUSEADDR: a closed socket in TIME_WAIT is no owner)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise PlaygroundError("Node.js is not installed: the Playground needs `node` (Node 20 or later) on PATH.")
    if not CLI.is_file():
        raise PlaygroundError("The Playground is not installed: run `make install` (it runs npm ci).")
    return node


def start(seat: Seat, *, bot_endpoint: str, workdir: Path, service_url: str | None = None
          ) -> subprocess.Popen[bytes]:
    """Start one Playground for `seat` against `bot_endpoint`, its config, log and preload in `workdir`;
    `service_url` is the connector the bot is told to answer to (the seat's guard)."""
    node = node_executable()
    if not port_free(seat.port):
        raise PlaygroundError(f"Port {seat.port} is already in use, so the Playground for {seat.name} cannot start; "
                              "stop whatever holds it (an earlier demo?) and try again.")
    workdir.mkdir(parents=True, exist_ok=True)
    preload = workdir / "loopback.cjs"
    preload.write_text(LOOPBACK_PRELOAD)
    config = workdir / f"playground-{seat.port}.yml"
    config.write_text(seat_config(CONFIG.read_text(), seat))
    env = dict(os.environ, M365_AGENTS_PLAYGROUND_CONFIG_PATH=str(config), TEAMSAPPTESTER_BROWSER="none",
               M365_AGENTS_PLAYGROUND_LOGFILE=str(workdir / f"playground-{seat.port}.log"))
    return subprocess.Popen(
        [node, "--require", str(preload), str(CLI), "-e", bot_endpoint, "-c", "msteams", "-p", str(seat.port),
         "--disable-telemetry", *(["--service-url", service_url] if service_url else [])],
        cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stop() ends it and nothing else
    )


async def wait_serving(proc: subprocess.Popen[bytes], seat: Seat, *, timeout_s: float = 30.0) -> None:
    """Return once the Playground answers on its port; PlaygroundError if it exits or never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while loop.time() < deadline:
            if proc.poll() is not None:
                raise PlaygroundError(f"The Playground for {seat.name} exited with status {proc.returncode}; "
                                      "see its log next to its config.")
            try:
                if (await client.get(f"http://127.0.0.1:{seat.port}/_debug/ping")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise PlaygroundError(f"The Playground for {seat.name} did not answer on port {seat.port} "
                          f"within {timeout_s:.0f} seconds.")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End one Playground we started (its own process group), politely first."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


async def start_guarded(seat: Seat, *, bot_endpoint: str, workdir: Path,
                        guards: list[ConnectorGuard]) -> subprocess.Popen[bytes]:
    """The seat's connector guard (appended to `guards`, for the caller to stop), then its Playground."""
    from sandbox.teams_connector import ConnectorGuard

    guard = await ConnectorGuard(f"http://127.0.0.1:{seat.port}").start()
    guards.append(guard)
    return start(seat, bot_endpoint=bot_endpoint, workdir=workdir, service_url=f"{guard.url}/_connector")


@contextlib.asynccontextmanager
async def running(settings: Any, seats: tuple[Seat, ...], *, bot_port: int = 0
                  ) -> AsyncIterator[tuple[Any, str, list[ConnectorGuard]]]:
    """The sandbox tenant, the real bot app on 127.0.0.1:`bot_port` (0: a free one) and one guarded
    Playground per seat, all serving; yields (runtime, bot URL, the guards in seat order).
    For the end-to-end test and bench/screenshots.py."""
    from aiohttp import web

    import bot

    node_executable()
    async with bot.build_runtime(settings) as runtime:
        runner = web.AppRunner(bot.create_app(runtime), access_log=None)
        await runner.setup()
        procs: list[subprocess.Popen[bytes]] = []
        guards: list[ConnectorGuard] = []
        try:
            await web.TCPSite(runner, "127.0.0.1", bot_port).start()
            bot_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            for seat in seats:
                procs.append(await start_guarded(seat, bot_endpoint=f"{bot_url}/api/messages",
                                                 workdir=settings.home / "playground", guards=guards))
            await asyncio.gather(*(wait_serving(proc, seat) for proc, seat in zip(procs, seats, strict=True)))
            yield runtime, bot_url, guards
        finally:
            for proc in procs:
                stop(proc)
            for guard in guards:
                await guard.stop()
            await runner.cleanup()


# --- make demo ----------------------------------------------------------------------------------------

DAVE = Seat("Dave Patel", "dave@contoso.com", 56150)
ERIN = Seat("Erin Novak", "erin@contoso.com", 56151)
SEATS = (DAVE, ERIN)


def instructions(*, bot_url: str, dave: Seat = DAVE, erin: Seat = ERIN) -> str:
    """What a new user opens, types and clicks, in order."""
    return f"""
Contain demo — sandbox tenant contoso.com, bot on {bot_url} (authentication OFF: local use only)

  1. Open Dave's Playground    {dave.url}
     type  /compromised alice
     keep the recommended actions, click "Contain selected", write a reason, click "Run".
  2. Open Erin's Playground    {erin.url}      (the second responder)
     type  /compromised status alice
     click "Approve": the high-impact actions (reset password, lift the sending block) run.
  3. Back in Dave's Playground the card shows every action succeeded and verified, then the summary
     with Secure Score arrives (the temporary password comes as a separate message).
     Type  /compromised alice  again and click "Open a new incident": the findings are gone.

  Also: /compromised score, /compromised help.   Ctrl-C stops everything.
"""


# --- alert threads (issue 4): the pollers open a thread in the Playground's channel ----------------------

ALERT_DEMO_POLL_INTERVAL_S = "10"  # the demo polls often so a raised alert shows within seconds


def alert_instructions(*, sandbox_url: str | None, interval_s: float) -> str:
    """How to see an alert open a thread: choose the channel once, then raise an alert in the sandbox."""
    raise_alert = (f"curl -s -X POST {sandbox_url}/_sandbox/alerts -H 'Content-Type: application/json' "
                   """-d '{"user": "alice", "kind": "risky_user", "severity": "high"}'""")
    return f"""  Alerts: in Dave's Playground open the team "Security", channel "Incidents", and type
     @Contain compromised set-channel      (alert threads go to that channel from then on)
  then raise an alert for alice in the sandbox tenant (kind risky_user or defender):
     {raise_alert}
  Within {2 * interval_s:.0f} seconds a new thread with alice's incident card appears in the channel; raise a
  second alert and it lands in the same thread.
"""


def _port_refusal(settings: Any) -> str | None:
    if not port_free(settings.port, settings.host):
        return (f"port {settings.port} is already in use (another demo or bot?); stop it or set PORT to a free "
                "port.")
    for seat in SEATS:
        if not port_free(seat.port):
            return (f"port {seat.port} for {seat.name}'s Playground is already in use (an earlier demo?); "
                    "stop whatever holds it and try again.")
    return None


async def main() -> int:
    import bot
    from dialogs.terminal.serve import serve
    from dialogs.web import exposure_refusal
    from services.settings import SettingsError, load_settings

    os.environ.setdefault("CONTAIN_POLL_INTERVAL_S", ALERT_DEMO_POLL_INTERVAL_S)  # alert threads, below
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    if not settings.sandbox or settings.app_id:
        print("demo: the demo runs against the sandbox tenant with authentication off; unset CONTAIN_TENANT_ID "
              "and MicrosoftAppId.", file=sys.stderr)
        return 2
    refusal = exposure_refusal(settings) or _port_refusal(settings)
    try:
        node_executable()
    except PlaygroundError as exc:
        refusal = refusal or str(exc)
    if refusal:
        print(f"demo: {refusal}", file=sys.stderr)
        return 2
    settings.home.mkdir(parents=True, exist_ok=True)
    stop_serving, ready = asyncio.Event(), asyncio.Event()
    procs: list[subprocess.Popen[bytes]] = []
    guards: list[ConnectorGuard] = []
    async with bot.build_runtime(settings) as runtime:
        server: asyncio.Task[Any] = asyncio.create_task(serve(bot.create_app(runtime), settings, stop=stop_serving,
                                                                   ready=ready))
        await asyncio.wait({server, asyncio.create_task(ready.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if server.done():
            return int(server.result())
        bot_url = f"http://{settings.host}:{settings.port}"
        try:
            for seat in SEATS:
                procs.append(await start_guarded(seat, bot_endpoint=f"{bot_url}/api/messages",
                                                 workdir=settings.home / "playground", guards=guards))
            await asyncio.gather(*(wait_serving(proc, seat) for proc, seat in zip(procs, SEATS, strict=True)))
            print(instructions(bot_url=bot_url), flush=True)
            print(alert_instructions(sandbox_url=runtime.sandbox.url if runtime.sandbox else settings.sandbox_url,
                                     interval_s=settings.poll_interval_s), flush=True)
            return int(await server)
        except PlaygroundError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 2
        finally:
            stop_serving.set()
            for proc in procs:
                stop(proc)
            for guard in guards:
                await guard.stop()
            if not server.done():
                await server


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(0)
