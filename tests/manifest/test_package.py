"""The Teams app package: contents, icons, ids, and the `contain package` command."""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from dialogs.terminal.package import handle_package
from services.packaging import (
    LOCAL_APP_ID,
    MANIFEST_DIR,
    PackagingError,
    build_manifest,
    build_package,
    png_size,
)
from services.settings import load_settings

APP_ID = "8f0c2d6e-1234-4abc-9def-0123456789ab"


def _unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _pixels(image: Image.Image) -> list[tuple[int, ...]]:
    width, height = image.size
    return [image.getpixel((x, y)) for y in range(height) for x in range(width)]  # type: ignore[misc]


def test_zip_holds_exactly_the_manifest_and_two_icons_at_the_root() -> None:
    files = _unzip(build_package(app_id=APP_ID, version="1.0.0"))
    assert sorted(files) == ["color.png", "manifest.json", "outline.png"]
    manifest = json.loads(files["manifest.json"])
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_icons_have_the_sizes_teams_requires() -> None:
    files = _unzip(build_package(app_id=APP_ID, version="1.0.0"))
    color = Image.open(io.BytesIO(files["color.png"]))
    outline = Image.open(io.BytesIO(files["outline.png"]))
    assert color.format == outline.format == "PNG"
    assert color.size == (192, 192)
    assert outline.size == (32, 32)


def test_colour_icon_is_opaque_and_in_colour() -> None:
    color = Image.open(MANIFEST_DIR / "color.png").convert("RGBA")
    pixels = _pixels(color)
    assert all(a == 255 for *_, a in pixels)  # a full-colour icon has no transparency
    assert (31, 78, 121, 255) in pixels  # the manifest's accentColor
    assert (255, 255, 255, 255) in pixels  # the white shield
    assert len(set(pixels)) > 2  # a drawn shape with smooth edges, not a flat block


def test_outline_icon_is_white_on_transparent_only() -> None:
    outline = Image.open(MANIFEST_DIR / "outline.png")
    assert outline.mode == "RGBA"
    pixels = _pixels(outline)
    assert all((r, g, b) == (255, 255, 255) for r, g, b, a in pixels if a > 0)
    alphas = [a for *_, a in pixels]
    assert alphas.count(0) > 100  # a real transparent background
    assert sum(a == 255 for a in alphas) > 200  # and a real white shape
    assert outline.getpixel((11, 19))[3] == 0  # the padlock is cut out of the shield


def test_ids_version_and_suffix_are_filled_everywhere() -> None:
    manifest = build_manifest(app_id=APP_ID.upper(), version="2.3.4", name_suffix=" (sandbox)")
    assert manifest["id"] == APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["version"] == "2.3.4"
    assert manifest["name"]["short"] == "Contain (sandbox)"
    assert "{{" not in json.dumps(manifest)


def test_bot_offers_the_compromised_slash_command_in_every_scope() -> None:
    bot = build_manifest(app_id=APP_ID, version="1.0.0")["bots"][0]
    assert set(bot["scopes"]) == {"team", "groupChat", "personal"}
    assert bot["isNotificationOnly"] is False
    assert bot["supportsFiles"] is False
    assert bot["supportsTargetedMessages"] is True  # the schema's switch for the / command list
    slash_lists = [cl for cl in bot["commandLists"] if "slash" in cl.get("triggers", [])]
    assert slash_lists
    titles = {cmd["title"] for cl in slash_lists for cmd in cl["commands"]}
    assert {"compromised", "help"} <= titles
    covered = {scope for cl in slash_lists for scope in cl["scopes"]}
    assert covered == {"team", "groupChat", "personal"}


@pytest.mark.parametrize("app_id", ["", "   ", "not-a-guid", "8f0c2d6e12344abc9def0123456789ab", APP_ID + "0"])
def test_refuses_an_empty_or_malformed_app_id_naming_the_variable(app_id: str) -> None:
    with pytest.raises(PackagingError, match="MicrosoftAppId"):
        build_package(app_id=app_id, version="1.0.0")


@pytest.mark.parametrize("version", ["", "1.0", "1.0.0-beta", "v1.0.0", "01.0.0"])
def test_refuses_a_version_teams_would_reject(version: str) -> None:
    with pytest.raises(PackagingError, match="version"):
        build_package(app_id=APP_ID, version=version)


def test_refuses_an_icon_of_the_wrong_size(tmp_path: Path) -> None:
    for name in ("manifest.template.json", "outline.png"):
        (tmp_path / name).write_bytes((MANIFEST_DIR / name).read_bytes())
    buffer = io.BytesIO()
    Image.new("RGB", (96, 96), (31, 78, 121)).save(buffer, "PNG")
    (tmp_path / "color.png").write_bytes(buffer.getvalue())
    with pytest.raises(PackagingError, match=r"color\.png must be 192x192"):
        build_package(app_id=APP_ID, version="1.0.0", manifest_dir=tmp_path)


def test_png_size_reads_the_header() -> None:
    assert png_size((MANIFEST_DIR / "outline.png").read_bytes()) == (32, 32)
    with pytest.raises(PackagingError):
        png_size(b"GIF89a" + bytes(30))


def test_same_inputs_give_the_same_bytes() -> None:
    assert build_package(app_id=APP_ID, version="1.0.0") == build_package(app_id=APP_ID, version="1.0.0")


async def test_cli_writes_the_package_with_the_configured_app_id(tmp_path: Path) -> None:
    settings = load_settings({"CONTAIN_HOME": str(tmp_path / "home"), "MicrosoftAppId": APP_ID})
    out = tmp_path / "out" / "app.zip"
    assert await handle_package(argparse.Namespace(output=out, app_version="3.1.4"), settings) == 0
    manifest = json.loads(_unzip(out.read_bytes())["manifest.json"])
    assert (manifest["id"], manifest["version"]) == (APP_ID, "3.1.4")


async def test_cli_in_sandbox_mode_without_app_id_uses_the_local_id_and_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings({"CONTAIN_HOME": str(tmp_path / "home")})
    out = tmp_path / "app.zip"
    assert await handle_package(argparse.Namespace(output=out, app_version=None), settings) == 0
    manifest = json.loads(_unzip(out.read_bytes())["manifest.json"])
    assert manifest["bots"][0]["botId"] == LOCAL_APP_ID
    assert manifest["name"]["short"].endswith("(sandbox)")
    assert LOCAL_APP_ID in capsys.readouterr().err


async def test_cli_with_a_tenant_but_no_app_id_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings({"CONTAIN_HOME": str(tmp_path / "home"), "CONTAIN_TENANT_ID": APP_ID,
                              "CONTAIN_CLIENT_ID": APP_ID, "CONTAIN_CLIENT_SECRET": "x"})
    out = tmp_path / "app.zip"
    assert await handle_package(argparse.Namespace(output=out, app_version=None), settings) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "MicrosoftAppId" in err and err.count("\n") == 1
