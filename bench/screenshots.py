"""Screenshots of Contain's cards rendered in the Microsoft 365 Agents Playground, for docs/ and the README.

    .venv/bin/python bench/screenshots.py [--out docs/screenshots]

Starts the sandbox tenant, the bot and Dave's and Erin's Playgrounds on free loopback ports with a
throwaway CONTAIN_HOME (a running `make demo` is not disturbed), then lets tests/e2e/screenshots.mjs
walk the tour in headless Debian chromium (playwright-core, no browser download). Needs `chromium`
(apt-get install chromium) or CHROMIUM=/path/to/chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import demo  # noqa: E402
from services.settings import load_settings  # noqa: E402

SCRIPT = REPO / "tests" / "e2e" / "screenshots.mjs"


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


async def main(out: Path) -> int:
    browser = chromium_path()
    if browser is None:
        print("screenshots: chromium is not installed; run `apt-get install -y chromium` or set CHROMIUM.",
              file=sys.stderr)
        return 2
    try:
        node = demo.node_executable()
    except demo.PlaygroundError as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="contain-screens-") as tmp:
        settings = load_settings({"CONTAIN_HOME": str(Path(tmp) / "home")})
        seats = (demo.Seat("Dave Patel", "dave@contoso.com", demo.free_port()),
                 demo.Seat("Erin Novak", "erin@contoso.com", demo.free_port()))
        async with demo.running(settings, seats):
            walk = await asyncio.create_subprocess_exec(
                node, str(SCRIPT), "--dave", seats[0].url, "--erin", seats[1].url, "--out", str(out),
                "--chromium", browser, cwd=REPO)
            return await walk.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    target = parser.parse_args().out.resolve()
    target.mkdir(parents=True, exist_ok=True)
    sys.exit(asyncio.run(main(target)))
