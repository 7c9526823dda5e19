"""Settings, read once from the environment into a typed object.

A missing or malformed setting raises SettingsError with one sentence that names the variable.
Bot Framework's own variable names are used where they exist (MicrosoftAppId, ...).
With no tenant credentials (CONTAIN_TENANT_ID unset) Contain runs against the sandbox tenant.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one sentence naming the variable."""


@dataclass(frozen=True, slots=True)
class TenantEndpoints:
    """Where and as whom the services talk to a tenant. Built from settings for a real tenant, or
    from a running sandbox; the services cannot tell the difference."""

    tenant_id: str
    client_id: str
    authority: str  # e.g. https://login.microsoftonline.com/{tenant}
    graph_url: str  # e.g. https://graph.microsoft.com (no version segment)
    exchange_url: str  # e.g. https://outlook.office365.com
    client_secret: str | None = None
    certificate_pem: Path | None = None  # PEM with the private key and the certificate
    ca_bundle: Path | None = None  # extra CA for TLS (the sandbox's self-signed login endpoint)

    def __repr__(self) -> str:  # never print the secret
        return f"TenantEndpoints(tenant_id={self.tenant_id!r}, graph_url={self.graph_url!r})"


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str
    host: str
    port: int
    # Bot Framework identity (empty app id: inbound auth disabled; only allowed in sandbox mode on loopback)
    app_id: str
    app_password: str | None
    app_tenant_id: str | None
    # Tenant access; None means sandbox mode
    tenant: TenantEndpoints | None
    sandbox_url: str | None
    sandbox_fixture: Path | None
    responders_group_id: str | None
    channel_id: str | None
    webhook_secret: str | None
    request_ttl_minutes: int
    poll_interval_s: float
    alert_min_risk: str
    log_level: str
    # How long an action's verification keeps reading back a change Microsoft applies with a delay
    # (session revocation, replicated deletions, risk still processing) before it reports "written, not
    # yet visible" (services.actions.engine).
    verify_wait_s: float = 20.0
    # The public client app `contain login` signs operators in with (device code flow); None: the tenant app's
    # own id (it must then allow public client flows), or in sandbox mode the sandbox's public client.
    cli_client_id: str | None = None

    @property
    def sandbox(self) -> bool:
        return self.tenant is None


_RISK_LEVELS = ("low", "medium", "high")


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}.") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, not {value}.")
    return value


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}.") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, not {value}.")
    return value


def _tenant(env: Mapping[str, str]) -> TenantEndpoints | None:
    tenant_id = env.get("CONTAIN_TENANT_ID", "").strip()
    if not tenant_id:
        return None
    client_id = env.get("CONTAIN_CLIENT_ID", "").strip()
    if not client_id:
        raise SettingsError("CONTAIN_CLIENT_ID must be set when CONTAIN_TENANT_ID is set.")
    secret = env.get("CONTAIN_CLIENT_SECRET") or None
    cert_raw = env.get("CONTAIN_CERTIFICATE_PATH") or None
    cert = Path(cert_raw) if cert_raw else None
    if secret is None and cert is None:
        raise SettingsError("CONTAIN_CERTIFICATE_PATH or CONTAIN_CLIENT_SECRET must be set for the tenant app.")
    if cert is not None and not cert.is_file():
        raise SettingsError(f"CONTAIN_CERTIFICATE_PATH points to {cert}, which is not a file.")
    ca_raw = env.get("CONTAIN_CA_BUNDLE") or None
    authority_host = env.get("CONTAIN_AUTHORITY_HOST", "https://login.microsoftonline.com").rstrip("/")
    return TenantEndpoints(
        tenant_id=tenant_id,
        client_id=client_id,
        authority=f"{authority_host}/{tenant_id}",
        graph_url=env.get("CONTAIN_GRAPH_URL", "https://graph.microsoft.com").rstrip("/"),
        exchange_url=env.get("CONTAIN_EXCHANGE_URL", "https://outlook.office365.com").rstrip("/"),
        client_secret=secret,
        certificate_pem=cert,
        ca_bundle=Path(ca_raw) if ca_raw else None,
    )


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read every setting once; raise SettingsError naming the first bad variable."""
    env = os.environ if env is None else env
    home = Path(env.get("CONTAIN_HOME") or ".contain").expanduser().resolve()
    database_url = env.get("CONTAIN_DATABASE_URL") or f"sqlite+aiosqlite:///{home / 'contain.db'}"
    if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise SettingsError(
            "CONTAIN_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://."
        )
    fixture_raw = env.get("CONTAIN_SANDBOX_FIXTURE") or None
    fixture = Path(fixture_raw) if fixture_raw else None
    if fixture is not None and not fixture.is_file():
        raise SettingsError(f"CONTAIN_SANDBOX_FIXTURE points to {fixture}, which is not a file.")
    alert_min_risk = (env.get("CONTAIN_ALERT_MIN_RISK") or "medium").lower()
    if alert_min_risk not in _RISK_LEVELS:
        raise SettingsError("CONTAIN_ALERT_MIN_RISK must be one of low, medium, high.")
    return Settings(
        home=home,
        database_url=database_url,
        host=env.get("HOST") or "127.0.0.1",
        port=_int(env, "PORT", 3978, 1, 65535),
        app_id=(env.get("MicrosoftAppId") or "").strip(),
        app_password=env.get("MicrosoftAppPassword") or None,
        app_tenant_id=env.get("MicrosoftAppTenantId") or None,
        tenant=_tenant(env),
        sandbox_url=(env.get("CONTAIN_SANDBOX_URL") or "").rstrip("/") or None,
        sandbox_fixture=fixture,
        responders_group_id=env.get("CONTAIN_RESPONDERS_GROUP_ID") or None,
        channel_id=env.get("CONTAIN_CHANNEL_ID") or None,
        webhook_secret=env.get("CONTAIN_WEBHOOK_SECRET") or None,
        request_ttl_minutes=_int(env, "CONTAIN_REQUEST_TTL_MINUTES", 30, 1, 24 * 60),
        poll_interval_s=_float(env, "CONTAIN_POLL_INTERVAL_S", 60.0, 0.2, 3600.0),
        alert_min_risk=alert_min_risk,
        log_level=(env.get("CONTAIN_LOG_LEVEL") or "INFO").upper(),
        verify_wait_s=_float(env, "CONTAIN_VERIFY_WAIT_S", 20.0, 0.0, 600.0),
        cli_client_id=(env.get("CONTAIN_CLI_CLIENT_ID") or "").strip() or None,
    )
