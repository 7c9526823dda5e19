"""The Playground config's people are the sandbox tenant's: same tenant, AAD object ids and UPNs,
and the responders the demo plays (Dave, Erin) are in the responders group."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.demo import swap_current_user

REPO = Path(__file__).resolve().parents[2]
CONFIG = (REPO / ".m365agentsplayground.yml").read_text()
FIXTURE = json.loads((REPO / "sandbox" / "fixtures" / "contoso.json").read_text())


def _people(text: str) -> dict[str, str]:
    upns = re.findall(r"userPrincipleName: (\S+)", text)
    ids = re.findall(r"aadObjectId: (\S+)", text)
    assert len(upns) == len(ids) == 6  # currentUser + exactly five users, as the Playground requires
    return dict(zip(upns, ids, strict=True))


def test_people_match_the_sandbox_fixture() -> None:
    fixture = {u["userPrincipalName"]: u["id"] for u in FIXTURE["users"]}
    for upn, aad_id in _people(CONFIG).items():
        assert fixture.get(upn) == aad_id, upn


def test_tenant_matches_the_sandbox_fixture() -> None:
    assert re.search(r"^tenantId: (\S+)$", CONFIG, re.M).group(1) == FIXTURE["tenant"]["id"]  # type: ignore[union-attr]


def test_both_demo_identities_are_responders() -> None:
    group = next(g for g in FIXTURE["groups"] if g["id"] == FIXTURE["tenant"]["respondersGroupId"])
    people = _people(CONFIG)
    assert people["dave@contoso.com"] in group["members"]
    assert people["erin@contoso.com"] in group["members"]


def test_second_playground_config_makes_erin_the_current_user() -> None:
    swapped = swap_current_user(CONFIG, "erin@contoso.com")
    current = swapped.split("currentUser:", 1)[1].split("users:", 1)[0]
    assert "erin@contoso.com" in current and "dave@contoso.com" not in current
    assert _people(swapped) == _people(CONFIG)
