"""`contain score [--json]`: Microsoft Secure Score now, its change over 7 and 30 days, the peer
averages Graph returns, and the improvement actions that matter for account compromise.

Exit status: 0 shown, 1 the tenant refused (one sentence on stderr) or has no score yet.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from services.summary.build import SecureScoreSummary, secure_score
from services.tenant.errors import TenantError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("score", help="Secure Score and the improvements that matter for compromise")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=handler, needs_runtime=True)


def score_json(s: SecureScoreSummary) -> dict[str, Any]:
    return {"current": s.current, "max": s.max, "percent": s.percent, "change_7d": s.change_7d,
            "change_30d": s.change_30d, "as_of": s.as_of.isoformat() if s.as_of else None,
            "peers": [{"basis": b, "averageScore": v} for b, v in s.peers],
            "controls": [{"id": c.id, "title": c.title, "topic": c.topic, "score": c.score, "maxScore": c.max_score,
                          "pointsAvailable": c.points_available, "status": c.status} for c in s.controls]}


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def render(s: SecureScoreSummary) -> str:
    lines = [f"Secure Score {s.current:.2f} / {s.max:.2f}  ({s.percent:.1f} %)",
             f"  change: 7 days {_signed(s.change_7d)}, 30 days {_signed(s.change_30d)}"]
    for basis, avg in s.peers:
        lines.append(f"  peers ({basis}): {avg:.2f}")
    lines += ["", "Improvement actions that matter for account compromise:"]
    for c in s.controls:
        lines.append(f"  {c.points_available:>5.1f} pts  {c.title}" + (f"  — {c.status}" if c.status else ""))
    return "\n".join(lines)


async def handler(args: argparse.Namespace, runtime: Any) -> int:
    """Print the tenant's Secure Score summary."""
    try:
        summary = await secure_score(tenant=runtime.tenant)
    except TenantError as exc:
        print(f"contain: {exc.sentence}", file=sys.stderr)
        return 1
    if summary is None:
        print("contain: the tenant has no Secure Score yet.", file=sys.stderr)
        return 1
    print(json.dumps(score_json(summary), indent=2) if args.json else render(summary))
    return 0
