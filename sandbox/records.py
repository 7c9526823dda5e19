"""What the sandbox remembers about the traffic it served: every request, and every write that landed.
Tests and benchmarks count writes from these (lost and duplicated actions)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    method: str
    route: str  # "GET /users/{id}", "EXO Get-Mailbox", "LOGIN POST /{tenant}/oauth2/v2.0/token"
    status: int
    time: str
    request_id: str
    path: str = ""
    query: str = ""  # the raw query string, e.g. "$select=id,displayName&$top=5"
    # Only with SandboxServer(keep_bodies=True) (the conformance tests): the JSON request body, passwords
    # redacted, and the JSON answer. Off by default, so a long drill does not hold every answer in memory.
    body: Any = None
    answer: Any = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def redacted(value: Any) -> Any:
    """`value` with every "password" member (any case, any depth) replaced by "[REDACTED]"."""
    if isinstance(value, dict):
        return {k: "[REDACTED]" if k.lower() == "password" and v is not None else redacted(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


@dataclass(frozen=True)
class WriteRecord:
    method: str
    route: str  # route template, e.g. "PATCH /users/{id}" or "EXO Set-Mailbox"
    target: str | None  # object id the write changed
    body: Any  # the request body with any password replaced by "[REDACTED]"
    time: str
    request_id: str
    status: int = 200

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class WriteJournal:
    """Appends write records to `writes.jsonl` so other processes (benchmarks) can count them too."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def append(self, record: WriteRecord) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record.to_json()) + "\n")

    def clear(self) -> None:
        if self.path is not None and self.path.exists():
            self.path.unlink()
