"""`make demo`: the sandbox tenant, the bot on 127.0.0.1:3978 and the Microsoft 365 Agents Playground.

Everything stays on loopback. Two Playgrounds start: http://localhost:56150 as Dave and
http://localhost:56151 as Erin (both responders in the sandbox), so one person can play the
requester and the second approver. Ctrl-C stops everything.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PLAYGROUND = REPO / "node_modules" / ".bin" / "agentsplayground"
CONFIG = REPO / ".m365agentsplayground.yml"
PLAYGROUNDS = (("Dave Patel", 56150, None), ("Erin Novak", 56151, "erin"))


def swap_current_user(text: str, upn: str) -> str:
    """The Playground config with the user whose UPN is `upn` as currentUser (and the former current
    user in their place in `users`). The Playground has no user switcher, so a second identity needs a
    second config."""
    lines = text.splitlines()
    current: dict[str, int] = {}
    i = lines.index("currentUser:") + 1
    while i < len(lines) and lines[i].startswith("  ") and not lines[i].startswith("  - "):
        current[lines[i].split(":", 1)[0].strip()] = i
        i += 1
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


def _erin_config(home: Path) -> Path:
    path = home / "playground-erin.yml"
    path.write_text(swap_current_user(CONFIG.read_text(), "erin@contoso.com"))
    return path


def _start_playground(port: int, config: Path) -> subprocess.Popen[bytes] | None:
    if not PLAYGROUND.exists():
        print("The Playground is not installed: run `make install` (npm ci) first.", file=sys.stderr)
        return None
    env = dict(os.environ, M365_AGENTS_PLAYGROUND_CONFIG_PATH=str(config))
    log_dir = config.parent / "playground-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env["M365_AGENTS_PLAYGROUND_LOGFILE"] = str(log_dir / f"playground-{port}.log")
    return subprocess.Popen(
        [str(PLAYGROUND), "-e", "http://127.0.0.1:3978/api/messages", "-c", "msteams", "-p", str(port),
         "--disable-telemetry"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the Playground's own process group, started above
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


async def main() -> int:
    import bot
    from dialogs.terminal.serve import serve
    from services.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    if not settings.sandbox or settings.app_id:
        print("demo: the demo runs against the sandbox tenant with authentication off; unset CONTAIN_TENANT_ID "
              "and MicrosoftAppId.", file=sys.stderr)
        return 2
    refusal = bot.exposure_refusal(settings)
    if refusal:
        print(f"demo: {refusal}", file=sys.stderr)
        return 2
    settings.home.mkdir(parents=True, exist_ok=True)
    configs = {None: CONFIG, "erin": _erin_config(settings.home)}
    stop, ready = asyncio.Event(), asyncio.Event()
    procs: list[subprocess.Popen[bytes]] = []
    async with bot.build_runtime(settings) as runtime:
        server: asyncio.Task[Any] = asyncio.create_task(serve(runtime, stop=stop, ready=ready))
        await asyncio.wait({server, asyncio.create_task(ready.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if server.done():
            return int(server.result())
        for _name, port, who in PLAYGROUNDS:
            proc = _start_playground(port, configs[who])
            if proc is not None:
                procs.append(proc)
        print("\nContain demo — sandbox tenant (contoso.com), bot on http://127.0.0.1:3978, authentication OFF")
        for name, port, _who in PLAYGROUNDS:
            print(f"  Playground as {name:<11} http://localhost:{port}")
        print("\nTry, in the Playground as Dave:   /compromised alice")
        print("  keep the recommended actions, confirm; then as Erin (second Playground):")
        print("  /compromised status alice   and approve the high-impact actions.")
        print("Other commands: /compromised score, /compromised help.  Ctrl-C stops everything.\n")
        try:
            await server
        finally:
            stop.set()
            for proc in procs:
                _stop(proc)
    if shutil.which("node") is None:
        print("Node.js was not found; the Playground needs it.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(0)
