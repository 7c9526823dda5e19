"""`contain audit` through the real parser, with a runtime that carries only the store."""

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from dialogs.terminal import audit as audit_cli
from services.store import audit
from services.store.db import Store
from tests.services.store.helpers import DANA


@dataclass
class StoreOnly:
    store: Store


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="contain")
    audit_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["audit", *argv])


async def _run(store: Store, *argv: str) -> int:
    args = _parse(*argv)
    return int(await args.handler(args, StoreOnly(store)))


async def _rows(store: Store) -> None:
    for i, incident in enumerate(["inc_aaaaaaaaaa", "inc_bbbbbbbbbb", "inc_aaaaaaaaaa"]):
        await audit.record(store, actor=DANA, event="request.confirmed", target="alice@contoso.com",
                           outcome="approved", incident_id=incident, detail=f"row {i}")


async def test_verify_says_intact_then_names_the_tampered_row(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    await _rows(store)
    assert await _run(store, "verify") == 0
    assert capsys.readouterr().out.strip() == "Audit chain intact: 3 rows."
    async with store.write() as conn:
        await conn.execute(sa.text("UPDATE audit_log SET target = 'alicf@contoso.com' WHERE seq = 2"))
    assert await _run(store, "verify") == 1
    assert capsys.readouterr().err.strip() == "Audit chain broken at row 2: its contents do not match its hash."


async def test_show_prints_the_latest_rows(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    await _rows(store)
    assert await _run(store, "show", "--limit", "2") == 0
    out = capsys.readouterr().out
    assert "#2 " in out and "#3 " in out and "#1 " not in out and "Dana Responder" in out
    assert await _run(store, "show", "--incident", "inc_bbbbbbbbbb") == 0
    out = capsys.readouterr().out
    assert "row 1" in out and "row 0" not in out


async def test_export_writes_json_lines_for_one_incident(store: Store, tmp_path: Path) -> None:
    await _rows(store)
    target = tmp_path / "out" / "audit.jsonl"
    assert await _run(store, "export", "--incident", "inc_aaaaaaaaaa", "--output", str(target)) == 0
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["seq"] for r in rows] == [1, 3] and all(len(r["hash"]) == 64 for r in rows)


def test_a_bad_limit_is_an_argument_error() -> None:
    with pytest.raises(SystemExit):
        _parse("show", "--limit", "0")
