"""`contain package` (not built yet)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("package", help="(not built yet)")
    parser.set_defaults(handler=_not_built, needs_runtime=False)


async def _not_built(args: argparse.Namespace, settings: object) -> int:
    print("contain package is not built yet.", file=sys.stderr)
    return 2
