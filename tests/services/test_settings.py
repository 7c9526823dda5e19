from pathlib import Path

import pytest

from services.settings import SettingsError, load_settings


def test_no_tenant_means_sandbox_mode(tmp_path: Path) -> None:
    settings = load_settings({"CONTAIN_HOME": str(tmp_path)})
    assert settings.sandbox
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'contain.db'}"


def test_tenant_without_credentials_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="CONTAIN_CERTIFICATE_PATH or CONTAIN_CLIENT_SECRET"):
        load_settings({"CONTAIN_TENANT_ID": "t", "CONTAIN_CLIENT_ID": "c"})


def test_bad_port_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="^PORT must be a whole number"):
        load_settings({"PORT": "eighty"})


def test_secret_never_in_repr() -> None:
    settings = load_settings({"CONTAIN_TENANT_ID": "t", "CONTAIN_CLIENT_ID": "c", "CONTAIN_CLIENT_SECRET": "s3cr3t!"})
    assert "s3cr3t!" not in repr(settings)
