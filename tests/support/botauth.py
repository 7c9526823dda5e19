"""Offline Bot Framework authentication for tests: our own RSA keys, an OpenID/JWKS stand-in on
loopback, token minting, and a CloudAdapter whose validation points at the stand-in through the
auth configuration (botbuilder's own override names, no patched globals).

botframework-connector fetches signing keys with the blocking `requests` library from inside the
event loop, so the stand-in runs in its own thread: served from the test's loop it would deadlock.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from botframework.connector.auth import MicrosoftAppCredentials, PasswordServiceClientCredentialFactory
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

APP_ID = "5d6b1a3e-0000-4000-8000-00000000b07a"
APP_PASSWORD = "not-a-real-secret"
TENANT_ID = "c0a1b2c3-0000-4000-8000-0000000c0770"
OTHER_TENANT_ID = "0ther000-0000-4000-8000-000000000bad"
CHANNEL_ISSUER = "https://api.botframework.com"
OUTBOUND_TOKEN = "outbound-test-token"


class SigningKey:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self, endorsements: list[str]) -> dict[str, Any]:
        key = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        key.update({"kid": self.kid, "use": "sig", "endorsements": endorsements})
        return key


class OpenIdStandIn:
    """Serves /channel/.well-known/openid-configuration and /emulator/... with their JWKS.
    Channel tokens are trusted with `channel_key`; the emulator path trusts only `other_key`."""

    def __init__(self) -> None:
        self.channel_key = SigningKey("channel-key-1")
        self.other_key = SigningKey("other-key-1")
        self.requests: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in.requests.append(self.path)
                base = f"http://127.0.0.1:{self.server.server_address[1]}"
                routes = {
                    "/channel/.well-known/openid-configuration": {"jwks_uri": f"{base}/channel/keys"},
                    "/emulator/.well-known/openid-configuration": {"jwks_uri": f"{base}/emulator/keys"},
                    "/channel/keys": {"keys": [stand_in.channel_key.jwk(["msteams", "emulator"])]},
                    "/emulator/keys": {"keys": [stand_in.other_key.jwk(["msteams", "emulator"])]},
                }
                body = routes.get(self.path)
                payload = json.dumps(body or {"error": "not found"}).encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def endpoints(self) -> dict[str, str]:
        """ConfigurationBotFrameworkAuthentication overrides pointing validation at this stand-in."""
        return {
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": f"{self.base}/channel/.well-known/openid-configuration",
            "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL": f"{self.base}/emulator/.well-known/openid-configuration",
            "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": CHANNEL_ISSUER,
            "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE": "https://api.botframework.com",
            "TO_CHANNEL_FROM_BOT_LOGIN_URL": f"{self.base}/login",
            "OAUTH_URL": f"{self.base}/oauth",
        }

    def token(self, *, service_url: str, key: SigningKey | None = None, issuer: str = CHANNEL_ISSUER,
              audience: str = APP_ID, expires_in: int = 3600, kid: str | None = None,
              extra: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> str:
        key = key or self.channel_key
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer, "aud": audience, "serviceurl": service_url,
            "nbf": now - 60, "iat": now - 60, "exp": now + expires_in, "jti": uuid.uuid4().hex,
        }
        claims.update(extra or {})
        for name in drop:
            claims.pop(name, None)
        return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": kid or key.kid})


class _FixedTokenCredentials(MicrosoftAppCredentials):
    """Outbound credentials that never call a login endpoint: the connector stand-in just sees the header."""

    def get_access_token(self, force_refresh: bool = False) -> str:
        return OUTBOUND_TOKEN


class OfflineCredentialFactory(PasswordServiceClientCredentialFactory):
    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> Any:
        if not await self.is_valid_app_id(app_id):
            raise PermissionError("Invalid app_id")
        return _FixedTokenCredentials(app_id, self.password, self.tenant_id, oauth_scope)


def offline_adapter(settings: Any, stand_in: OpenIdStandIn) -> Any:
    """The real CloudAdapter + ConfigurationBotFrameworkAuthentication, validating against the stand-in."""
    from bot import build_adapter

    factory = OfflineCredentialFactory(settings.app_id, settings.app_password, settings.app_tenant_id)
    return build_adapter(settings, credentials_factory=factory, **stand_in.endpoints())
