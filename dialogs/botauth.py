"""Bot Framework authentication for the adapter the composition root (bot.py) builds: the settings in
the shape botbuilder reads, and client reuse per service URL."""

from __future__ import annotations

from typing import Any

from botframework.connector.auth import BotFrameworkAuthentication, ConnectorFactory

from services.settings import Settings


class BotAuthConfig:
    """The attribute bag ConfigurationBotFrameworkAuthentication reads (its names, not ours). Extra
    keyword arguments set its endpoint overrides, e.g. TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: tests
    point token validation at a local OpenID stand-in this way instead of patching globals."""

    def __init__(self, settings: Settings, **endpoints: str) -> None:
        self.APP_ID = settings.app_id
        self.APP_PASSWORD = settings.app_password or ""
        # Single tenant when the bot's tenant is known: the token for outbound calls comes from it.
        self.APP_TYPE = "SingleTenant" if settings.app_tenant_id and settings.app_id else "MultiTenant"
        self.APP_TENANTID = settings.app_tenant_id
        for name, value in endpoints.items():
            setattr(self, name.upper(), value)

    def __repr__(self) -> str:  # never print the password
        return f"BotAuthConfig(APP_ID={self.APP_ID!r}, APP_TYPE={self.APP_TYPE!r})"


_CLIENT_CACHE_MAX = 64


def reusing_clients(inner: BotFrameworkAuthentication) -> BotFrameworkAuthentication:
    """Bot Framework authentication that reuses connector and user-token clients per (app id, service
    URL, audience) instead of building two per turn: msrest spends ~4 ms building each client's retry
    table, which was most of a turn's CPU and made 50 concurrent clicks queue. BotFrameworkAdapter kept
    the same cache; validation itself is not cached."""
    class _Factory(ConnectorFactory):
        def __init__(self, wrapped: Any, app_id: str | None, cache: dict[tuple[Any, ...], Any]) -> None:
            self._wrapped, self._app_id, self._cache = wrapped, app_id, cache

        async def create(self, service_url: str, audience: str | None = None) -> Any:
            key = ("connector", self._app_id, service_url, audience)
            if key not in self._cache:
                if len(self._cache) > _CLIENT_CACHE_MAX:  # service URLs are few; never let callers grow it
                    self._cache.clear()
                self._cache[key] = await self._wrapped.create(service_url, audience)
            return self._cache[key]

    class _Reusing(BotFrameworkAuthentication):
        def __init__(self) -> None:
            self._cache: dict[tuple[Any, ...], Any] = {}

        @staticmethod
        def _app_id(claims_identity: Any) -> str | None:
            claims = getattr(claims_identity, "claims", None) or {}
            return claims.get("aud") or claims.get("appid")

        async def authenticate_request(self, activity: Any, auth_header: str) -> Any:
            result = await inner.authenticate_request(activity, auth_header)
            if result.connector_factory is not None:
                result.connector_factory = _Factory(
                    result.connector_factory, self._app_id(result.claims_identity), self._cache)
            return result

        async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> Any:
            return await inner.authenticate_streaming_request(auth_header, channel_id_header)

        def create_connector_factory(self, claims_identity: Any) -> Any:
            return _Factory(inner.create_connector_factory(claims_identity), self._app_id(claims_identity),
                            self._cache)

        async def create_user_token_client(self, claims_identity: Any) -> Any:
            key = ("token", self._app_id(claims_identity))
            if key not in self._cache:
                self._cache[key] = await inner.create_user_token_client(claims_identity)
            return self._cache[key]

        def create_bot_framework_client(self) -> Any:
            return inner.create_bot_framework_client()

        def get_originating_audience(self) -> str:
            return str(inner.get_originating_audience())

        async def authenticate_channel_request(self, auth_header: str) -> Any:
            return await inner.authenticate_channel_request(auth_header)

    return _Reusing()
