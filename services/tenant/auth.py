"""App-only tokens from Microsoft Entra ID through MSAL, for Graph and Exchange Online.

One ConfidentialClientApplication per tenant, authenticated with a certificate (preferred) or a
client secret. MSAL caches tokens in memory and refreshes them before they expire; the blocking
HTTP call runs in a worker thread, one at a time per resource, so a fan-out of twenty Graph reads
asks Entra for one token, not twenty.
"""

from __future__ import annotations

import asyncio
import functools
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import msal
import requests
import requests.adapters
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)

from services.settings import TenantEndpoints
from services.tenant.errors import TenantError

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)


def _certificate_credential(pem_path: Path) -> dict[str, str]:
    """MSAL's certificate credential from one PEM file holding the private key and the certificate.

    The certificate goes along (x5c) and MSAL derives the SHA-256 thumbprint from it, which Entra
    prefers over the legacy SHA-1 one (see certificate_thumbprint for what the portal shows)."""
    try:
        text = pem_path.read_text()
    except OSError as exc:
        raise TenantError(f"Contain could not read the certificate file {pem_path} ({exc.strerror}).") from None
    blocks = {m.group(1): m.group(0) for m in _PEM_BLOCK.finditer(text)}
    key = next((pem for label, pem in blocks.items() if label.endswith("PRIVATE KEY")), None)
    cert = blocks.get("CERTIFICATE")
    if key is None or cert is None:
        raise TenantError(f"The certificate file {pem_path} must hold both the private key and the certificate.")
    return {"private_key": key, "public_certificate": cert}


def certificate_thumbprint(cert_pem: str, *, algorithm: str = "sha1") -> str:
    """Hex thumbprint of a PEM certificate as the Entra portal shows it (SHA-1, upper case)."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    digest = hashes.SHA1() if algorithm == "sha1" else hashes.SHA256()  # noqa: S303 - display only
    return cert.fingerprint(digest).hex().upper()


def _aadsts(result: dict[str, Any]) -> str:
    """One sentence from MSAL's error dict: the AADSTS code and its message, without the trace and
    correlation ids Entra appends (and never the credential)."""
    description = str(result.get("error_description") or "")
    first = re.split(r"\s+Trace ID:|\r?\n", description, maxsplit=1)[0].strip()
    return (first or str(result.get("error") or "unknown error")).rstrip(".")


def _session_trusting(ca_bundle: Path) -> requests.Session:
    """A requests session for MSAL that verifies TLS with `ca_bundle`.

    MSAL's own `verify=` lands on the session, and requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
    override a session's verify; passing it on every request is the only setting the environment
    cannot replace."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(max_retries=1)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.request = functools.partial(session.request, verify=str(ca_bundle), timeout=30)  # type: ignore[method-assign]
    return session


class TokenSource:
    """App-only access tokens for one tenant."""

    def __init__(self, endpoints: TenantEndpoints) -> None:
        self._endpoints = endpoints
        self._app: msal.ConfidentialClientApplication | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self.acquisitions = 0  # how many times MSAL was asked (cache hits included); tests read it

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is not None:
            return self._app
        ep = self._endpoints
        credential: Any
        if ep.certificate_pem is not None:
            credential = _certificate_credential(ep.certificate_pem)
        elif ep.client_secret:
            credential = ep.client_secret
        else:
            raise TenantError("No certificate or client secret is configured for the tenant app.")
        kwargs: dict[str, Any] = {}
        if ep.ca_bundle is not None:
            kwargs["http_client"] = _session_trusting(ep.ca_bundle)
        try:
            self._app = msal.ConfidentialClientApplication(
                ep.client_id,
                client_credential=credential,
                authority=ep.authority,
                instance_discovery=False,
                **kwargs,
            )
        except ValueError as exc:  # bad authority or a credential MSAL cannot load
            raise TenantError(f"Contain could not set up sign-in for the tenant app: {str(exc).split('.')[0]}.") \
                from None
        except Exception as exc:  # network trouble during authority discovery (requests errors)
            raise TenantError(
                f"Contain could not reach the sign-in authority {ep.authority} ({type(exc).__name__})."
            ) from None
        return self._app

    def _acquire(self, scope: str) -> dict[str, Any]:
        app = self._application()
        try:
            return app.acquire_token_for_client(scopes=[scope])  # type: ignore[no-any-return]
        except Exception as exc:  # requests' connection and TLS errors
            raise TenantError(
                f"Contain could not reach the sign-in authority {self._endpoints.authority} ({type(exc).__name__})."
            ) from None

    async def token(self, resource: str) -> str:
        """An access token for `resource` (a `.default` scope). Raises TenantError with one sentence."""
        lock = self._locks.setdefault(resource, asyncio.Lock())
        async with lock:
            self.acquisitions += 1
            result = await asyncio.to_thread(self._acquire, resource)
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            raise TenantError(
                f"Microsoft Entra ID refused a token for {urlparse(resource).netloc or resource}: {_aadsts(result)}.",
                code=str(result.get("error") or "") or None,
                request_id=str(result.get("correlation_id") or "") or None,
            )
        return str(token)

    def graph_auth_provider(self) -> BaseBearerTokenAuthenticationProvider:
        """The kiota authentication provider the Graph request adapter uses."""
        return BaseBearerTokenAuthenticationProvider(GraphTokenProvider(self, self._endpoints.graph_url))


class GraphTokenProvider(AccessTokenProvider):
    """kiota's AccessTokenProvider over TokenSource.

    kiota silently sends a request without the Authorization header when its host is not allowed,
    so the allowed host is the Graph base URL's host exactly, whatever settings say it is."""

    def __init__(self, tokens: TokenSource, graph_url: str) -> None:
        self._tokens = tokens
        host = urlparse(graph_url).hostname or ""
        self._hosts = AllowedHostsValidator([host])

    async def get_authorization_token(self, uri: str, additional_authentication_context: dict[str, Any] | None = None
                                      ) -> str:
        if not self._hosts.is_url_host_valid(uri):
            return ""
        return await self._tokens.token(GRAPH_SCOPE)

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts
