"""`contain audit show|verify|export`: read the append-only audit log and check its hash chain.

    contain audit show [--incident ID] [--limit N]     the latest rows, oldest first
    contain audit verify                              recompute the chain; exit 1 naming the first broken row
    contain audit export [--incident ID] [--output FILE]   every row as JSON lines (stdout by default)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import IO, Any

from services.store import audit


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("audit", help="Show, verify or export the audit log.",
                                   description="Show, verify or export the append-only audit log.")
    verbs = parser.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)

    show = verbs.add_parser("show", help="Print the latest audit rows, oldest first.")
    show.add_argument("--incident", metavar="ID", help="only rows about this incident")
    show.add_argument("--limit", metavar="N", type=_positive, default=50, help="how many rows (default 50)")
    show.set_defaults(handler=show_handler)

    check = verbs.add_parser("verify", help="Recompute the hash chain; exit 1 and name the first broken row.")
    check.set_defaults(handler=verify_handler)

    export = verbs.add_parser("export", help="Write every row as JSON lines.")
    export.add_argument("--incident", metavar="ID", help="only rows about this incident")
    export.add_argument("--output", metavar="FILE", type=Path, help="write here instead of stdout")
    export.set_defaults(handler=export_handler)


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


async def show_handler(args: argparse.Namespace, runtime: Any) -> int:
    entries = await audit.recent(runtime.store, incident_id=args.incident, limit=args.limit)
    if not entries:
        print("No audit rows" + (f" for incident {args.incident}." if args.incident else "."))
        return 0
    for e in entries:
        at = e.at.strftime("%Y-%m-%d %H:%M:%S")
        who = f"{e.actor_name} ({e.actor_id})"
        incident = f" [{e.incident_id}]" if e.incident_id and not args.incident else ""
        print(f"#{e.seq:<6} {at}Z  {who}  {e.event}  {e.target or '-'}  {e.outcome or '-'}{incident}")
        if e.detail:
            print(f"         {e.detail}")
    return 0


async def verify_handler(args: argparse.Namespace, runtime: Any) -> int:
    result = await audit.verify(runtime.store)
    print(result.message, file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


async def export_handler(args: argparse.Namespace, runtime: Any) -> int:
    out: IO[str] = sys.stdout
    if args.output is not None:
        try:
            out = await asyncio.to_thread(_open_for_writing, args.output)
        except OSError as exc:
            print(f"contain: cannot write {args.output}: {exc.strerror}.", file=sys.stderr)
            return 1
    count = 0
    try:
        async for row in audit.export(runtime.store, incident_id=args.incident):
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    finally:
        if out is not sys.stdout:
            out.close()
    if args.output is not None:
        print(f"Wrote {count} audit rows to {args.output}.", file=sys.stderr)
    return 0


def _open_for_writing(path: Path) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", encoding="utf-8")


# dialogs.terminal.cli looks for `handler` on the parsed arguments; each sub-command sets its own.
handler = show_handler
