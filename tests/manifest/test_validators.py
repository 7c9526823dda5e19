"""The packaged manifest against the Teams schema (jsonschema) and Microsoft's own validator
(@microsoft/app-manifest, offline); a manifest with a bad scope must fail both."""

from __future__ import annotations

import copy
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from services.packaging import build_package
from tests.conftest import REPO, SCHEMAS

APP_ID = "8f0c2d6e-1234-4abc-9def-0123456789ab"
SCHEMA_FILE = SCHEMAS / "teams-manifest-v1.30.schema.json"
NODE_VALIDATOR = REPO / "tests" / "js" / "validate_manifest.mjs"


@pytest.fixture(scope="module")
def packaged() -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(build_package(app_id=APP_ID, version="1.0.0"))) as archive:
        manifest: dict[str, Any] = json.loads(archive.read("manifest.json"))
    return manifest


@pytest.fixture(scope="module")
def broken(packaged: dict[str, Any]) -> dict[str, Any]:
    manifest = copy.deepcopy(packaged)
    manifest["bots"][0]["scopes"] = ["team", "everyone"]
    return manifest


def _schema_errors(manifest: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8-sig"))
    validator = jsonschema.Draft4Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest)]


def test_manifest_declares_the_schema_version_it_is_validated_against(packaged: dict[str, Any]) -> None:
    assert packaged["manifestVersion"] == "1.30"
    assert packaged["$schema"].endswith("/teams/v1.30/MicrosoftTeams.schema.json")


def test_packaged_manifest_is_valid_against_the_official_schema(packaged: dict[str, Any]) -> None:
    assert _schema_errors(packaged) == []


def test_bad_scope_fails_the_official_schema(broken: dict[str, Any]) -> None:
    errors = _schema_errors(broken)
    assert any("everyone" in e and e.startswith("bots/0/scopes") for e in errors), errors


@pytest.fixture(scope="module")
def official(packaged: dict[str, Any], broken: dict[str, Any],
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Both manifests through the official validator in one node run (node starts in ~0.5 s)."""
    node = shutil.which("node")
    assert node, "node is not on PATH; `make install` needs Node.js for the manifest and card validators"
    assert (REPO / "node_modules" / "@microsoft" / "app-manifest").is_dir(), \
        "@microsoft/app-manifest is not installed; run `make install`"
    folder = tmp_path_factory.mktemp("manifests")
    paths = {}
    for name, manifest in (("good", packaged), ("broken", broken)):
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(manifest), encoding="utf-8")
    proc = subprocess.run([node, str(NODE_VALIDATOR), str(paths["good"]), str(paths["broken"])],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    results = {Path(r["file"]).stem: r for r in json.loads(proc.stdout)["results"]}
    results["_exit"] = {"code": proc.returncode}
    return results


def test_official_validator_accepts_the_packaged_manifest(official: dict[str, dict[str, Any]]) -> None:
    good = official["good"]
    assert good["errors"] == []
    # It used the schema bundled in the package, not one fetched from the network.
    assert Path(good["schema"]).is_relative_to(REPO / "node_modules" / "@microsoft" / "app-manifest")
    assert Path(good["schema"]).parent.name == "v1.30"


def test_official_validator_rejects_a_bad_scope(official: dict[str, dict[str, Any]]) -> None:
    errors = official["broken"]["errors"]
    assert any("/bots/0/scopes" in e for e in errors), errors
    assert official["_exit"]["code"] == 1


def test_official_validator_refuses_a_schema_it_does_not_ship(tmp_path: Path, packaged: dict[str, Any]) -> None:
    """Offline guarantee: an unbundled $schema is an error, never a download."""
    manifest = dict(packaged, **{"$schema": "https://contain.example/schema.json"})
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    proc = subprocess.run(["node", str(NODE_VALIDATOR), str(path)], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 1, proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    assert any("not bundled" in e for e in result["errors"])
