"""The bot refuses to serve when it would act on anyone's POST."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import create_app
from dialogs.web import PARTS_KEY, exposure_refusal, is_loopback, listening_line
from services.settings import SettingsError
from tests.support.botfixtures import bare_runtime, sandbox_settings

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the configuration these tests prove is refused

REPO = Path(__file__).resolve().parents[2]


def _run_serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "CONTAIN_", "HOST", "PORT"))}
    clean.update({"CONTAIN_HOME": str(tmp_path / "home"), **env})
    return subprocess.run([sys.executable, "-c", "import sys, bot; sys.exit(bot.main(['serve']))"], cwd=REPO,
                          env=clean, capture_output=True, text=True, timeout=60)


def test_no_app_id_on_all_interfaces_exits_with_one_sentence(tmp_path: Path) -> None:
    result = _run_serve(tmp_path, HOST=ALL_INTERFACES)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "MicrosoftAppId" in lines[0] and "HOST" in lines[0]
    assert not (tmp_path / "home").exists()  # refused before anything started


def test_no_app_id_with_a_real_tenant_exits(tmp_path: Path) -> None:
    result = _run_serve(tmp_path, CONTAIN_TENANT_ID="t", CONTAIN_CLIENT_ID="c", CONTAIN_CLIENT_SECRET="s")
    assert result.returncode != 0 and "MicrosoftAppId" in result.stderr


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                                ("[::1]", True), ("localhost", True), (ALL_INTERFACES, False),
                                                ("::", False), ("10.0.0.1", False), ("bot.contoso.com", False)])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_create_app_refuses_unsafe_settings(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MicrosoftAppId"):
        create_app(bare_runtime(sandbox_settings(tmp_path, HOST=ALL_INTERFACES)))


def test_app_id_without_password_is_refused(tmp_path: Path) -> None:
    refusal = exposure_refusal(sandbox_settings(tmp_path, MicrosoftAppId="x"))
    assert refusal is not None and "MicrosoftAppPassword" in refusal


def test_auth_off_is_exposed_to_the_dialogs_and_said_at_start(tmp_path: Path) -> None:
    runtime = bare_runtime(sandbox_settings(tmp_path))
    app = create_app(runtime)
    assert app[PARTS_KEY].auth_off is True
    assert listening_line(runtime.settings, True) == (
        "Contain listening on http://127.0.0.1:3978 (sandbox tenant, authentication OFF — local use only)")


def test_python_bot_py_with_no_arguments_serves(tmp_path: Path) -> None:
    """As a Bot Framework sample's app does: `python bot.py` runs the bot (here refused before it starts,
    which proves it took the serve path: the refusal is serve's exposure check)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "CONTAIN_", "HOST", "PORT"))}
    clean.update({"CONTAIN_HOME": str(tmp_path / "home"), "HOST": ALL_INTERFACES})
    result = subprocess.run([sys.executable, "bot.py"], cwd=REPO, env=clean, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "MicrosoftAppId" in result.stderr and "HOST" in result.stderr
