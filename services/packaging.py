"""The Teams app package: manifest.json filled from settings, plus the two icons, zipped.

Pure: no tenant, no network. `build_manifest` fills manifest/manifest.template.json; `build_package`
returns the zip Teams admin centre and the Developer Portal accept (the three files at the zip root).
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

MANIFEST_DIR = Path(__file__).resolve().parent.parent / "manifest"
TEMPLATE_NAME = "manifest.template.json"
ICONS = {"color.png": (192, 192), "outline.png": (32, 32)}
PACKAGE_FILES = ("manifest.json", *ICONS)

# An obviously local id for packaging without a Bot registration (sandbox drills, the Playground).
# Teams will not find a bot behind it; the CLI says so when it uses it.
LOCAL_APP_ID = "00000000-0000-4000-8000-00000000c0de"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
# Teams wants a plain major.minor.patch (no pre-release tag) and a higher one on every upload.
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# Fixed zip timestamps so the same inputs give the same bytes (reproducible packages).
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


class PackagingError(ValueError):
    """The package cannot be built; the message is one sentence saying what to fix."""


def check_app_id(app_id: str) -> str:
    """Return the app id normalised to lower case, or raise PackagingError naming MicrosoftAppId."""
    value = (app_id or "").strip()
    if not value:
        raise PackagingError("MicrosoftAppId is empty; set it to the Azure Bot's Microsoft App ID (a GUID).")
    if not _GUID.match(value):
        raise PackagingError(f"MicrosoftAppId must be a GUID like 8f0c2d6e-1234-4abc-9def-0123456789ab, not {value!r}.")
    return value.lower()


def check_version(version: str) -> str:
    """Return the version if it is major.minor.patch, else raise PackagingError."""
    if not _SEMVER.match(version or ""):
        raise PackagingError(f"The app version must look like 1.2.3 (numbers only), not {version!r}.")
    return version


def _fill(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in values:
                raise PackagingError(f"The manifest template uses an unknown placeholder {m.group(0)}.")
            return values[m.group(1)]

        return _PLACEHOLDER.sub(sub, node)
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    return node


def build_manifest(*, app_id: str, version: str, name_suffix: str = "",
                   manifest_dir: Path = MANIFEST_DIR) -> dict[str, Any]:
    """The manifest as a dict: the template with the bot id (also the Teams app id), version and
    an optional display-name suffix such as " (sandbox)" filled in."""
    values = {"MicrosoftAppId": check_app_id(app_id), "version": check_version(version), "nameSuffix": name_suffix}
    template = json.loads((manifest_dir / TEMPLATE_NAME).read_text(encoding="utf-8"))
    manifest: dict[str, Any] = _fill(template, values)
    short = manifest["name"]["short"]
    if len(short) > 30:  # Teams truncates nothing; it rejects the upload
        raise PackagingError(f"The app's short name {short!r} is longer than the 30 characters Teams allows.")
    return manifest


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (no image library needed at run time)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise PackagingError("An icon is not a PNG file.")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _icon(manifest_dir: Path, name: str) -> bytes:
    path = manifest_dir / name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PackagingError(f"The icon {path} is missing; run manifest/make_icons.py.") from None
    expected = ICONS[name]
    if png_size(data) != expected:
        raise PackagingError(f"The icon {name} must be {expected[0]}x{expected[1]} pixels.")
    return data


def build_package(*, app_id: str, version: str, name_suffix: str = "", manifest_dir: Path = MANIFEST_DIR) -> bytes:
    """The app package as zip bytes: manifest.json, color.png and outline.png at the root."""
    manifest = build_manifest(app_id=app_id, version=version, name_suffix=name_suffix, manifest_dir=manifest_dir)
    files = {"manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")}
    for name in ICONS:
        files[name] = _icon(manifest_dir, name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in PACKAGE_FILES:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()
