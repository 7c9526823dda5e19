"""`contain package`: write the Teams app package (manifest.json and icons, zipped) for upload.

Needs no tenant: only MicrosoftAppId from the environment. Without one, in sandbox mode, the
package carries a fixed local id so the manifest can be inspected and validated; it will not
reach a bot in a real tenant, and the command says so.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from importlib import metadata
from pathlib import Path

from services.packaging import LOCAL_APP_ID, PackagingError, build_package
from services.settings import Settings

DEFAULT_OUTPUT = Path("out/contain-teams-app.zip")


def _default_version() -> str:
    try:
        return metadata.version("contain")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "package", help="write the Teams app package (zip) for upload to Teams admin centre",
        description="Write the Teams app package: manifest.json with MicrosoftAppId filled in, color.png and "
                    "outline.png, zipped at the root as Teams expects.")
    parser.add_argument("--output", "-o", type=Path, default=DEFAULT_OUTPUT,
                        help=f"where to write the zip (default {DEFAULT_OUTPUT})")
    parser.add_argument("--version", dest="app_version", default=None,
                        help="app version, major.minor.patch; raise it on every re-upload (default: Contain's version)")
    parser.set_defaults(handler=handle_package, needs_runtime=False)


def _write(output: Path, data: bytes) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)


async def handle_package(args: argparse.Namespace, settings: Settings) -> int:
    """Build the package from settings and write it; one sentence on stderr if it cannot."""
    app_id = settings.app_id
    suffix = ""
    if not app_id:
        if not settings.sandbox:
            print("contain: MicrosoftAppId is empty; set it to the Azure Bot's Microsoft App ID before packaging.",
                  file=sys.stderr)
            return 2
        app_id, suffix = LOCAL_APP_ID, " (sandbox)"
        print(f"contain: MicrosoftAppId is not set; using the local id {LOCAL_APP_ID} (sandbox mode). "
              "This package is for inspection only: upload one built with your Azure Bot's app id.",
              file=sys.stderr)
    version = args.app_version or _default_version()
    try:
        data = build_package(app_id=app_id, version=version, name_suffix=suffix)
    except PackagingError as exc:
        print(f"contain: {exc}", file=sys.stderr)
        return 2
    output: Path = args.output
    try:
        await asyncio.to_thread(_write, output, data)
    except OSError as exc:
        print(f"contain: cannot write {output}: {exc.strerror}.", file=sys.stderr)
        return 2
    print(f"Wrote {output} (app id {app_id.lower()}, version {version}); upload it in Teams admin centre > "
          "Teams apps > Manage apps > Upload new app.")
    return 0
