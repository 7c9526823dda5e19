"""The sandbox's identity platform: OpenID discovery and the v2.0 token endpoint (client credentials
with a client secret or a certificate-signed client assertion), issuing RS256 access tokens, and
checking those tokens on Graph and Exchange requests.

Error bodies follow Microsoft identity platform's (`error`, `error_description` with an AADSTS
code, `error_codes`, `trace_id`, `correlation_id`, `timestamp`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

GRAPH_AUDIENCE = "https://graph.microsoft.com"
EXCHANGE_AUDIENCE = "https://outlook.office365.com"
EXCHANGE_ROLES = frozenset({"Exchange.ManageAsApp"})
TOKEN_LIFETIME_S = 3600
KID = "contain-sandbox-1"


def thumbprints(cert_pem: str) -> tuple[str, str]:
    """(x5t, x5t#S256) header values of a certificate: base64url SHA-1 and SHA-256 of its DER."""
    der = x509.load_pem_x509_certificate(cert_pem.encode()).public_bytes(serialization.Encoding.DER)

    def b64(digest: bytes) -> str:
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    return b64(hashlib.sha1(der).digest()), b64(hashlib.sha256(der).digest())  # noqa: S324 - x5t is SHA-1 by spec


def _aad_error(status: int, error: str, code: int, description: str) -> web.Response:
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {"error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {corr} "
                                 f"Timestamp: {stamp}",
            "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": corr,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}"}
    return web.json_response(body, status=status)


@lru_cache(maxsize=4)
def _signing_key(pem: bytes) -> rsa.RSAPrivateKey:
    """Loading checks the RSA key (~50 ms of CPU); a test run starts hundreds of sandboxes on one key."""
    private_key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    return private_key


class Authority:
    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.private_key = _signing_key(server.keys.signing_key_pem())
        self.public_key = self.private_key.public_key()
        from sandbox.devicecode import DeviceCodes

        self.device_codes = DeviceCodes(server)

    # -- discovery -------------------------------------------------------------------------------
    def _check_tenant(self, request: web.Request) -> web.Response | None:
        tenant = request.match_info["tenant"].lower()
        if tenant not in self.server.state.tenant_names():
            return _aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check to make sure you "
                              "have the correct tenant ID and are signing into the correct cloud.")
        return None

    async def openid_configuration(self, request: web.Request) -> web.Response:
        if (err := self._check_tenant(request)) is not None:
            return err
        base = f"https://{request.host}/{self.server.state.tenant_id}"
        return web.json_response({
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"https://{request.host}/{self.server.state.tenant_id}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
        })

    async def jwks(self, request: web.Request) -> web.Response:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        return web.json_response({"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]})

    # -- token -----------------------------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        if (err := self._check_tenant(request)) is not None:
            return err
        form = await request.post()
        grant = str(form.get("grant_type") or "")
        from sandbox.devicecode import DEVICE_CODE_GRANT

        if grant == DEVICE_CODE_GRANT:
            return await self.device_codes.device_code_grant(request, form)
        if grant == "refresh_token":
            return await self.device_codes.refresh_grant(request, form)
        if grant != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type "
                              f"'{grant}'.")
        client_id = str(form.get("client_id") or "")
        if not client_id and request.headers.get("Authorization", "").startswith("Basic "):
            raw = base64.b64decode(request.headers["Authorization"][6:]).decode(errors="replace")
            client_id, _, secret_basic = raw.partition(":")
        else:
            secret_basic = None
        app = self.server.state.app(client_id)
        if app is None:
            return _aad_error(400, "unauthorized_client", 700016, f"Application with identifier '{client_id}' was "
                              f"not found in the directory '{self.server.state.tenant['displayName']}'.")
        secret = form.get("client_secret") or secret_basic
        assertion = form.get("client_assertion")
        if secret is not None:
            if not app.get("clientSecret") or not hmac.compare_digest(str(secret), app["clientSecret"]):
                return _aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                                  "being sent in the request is the client secret value, not the client secret ID, "
                                  f"for a secret added to app '{client_id}'.")
        elif assertion is not None:
            problem = self._check_assertion(str(assertion), app, request)
            if problem is not None:
                return problem
        else:
            return _aad_error(401, "invalid_client", 7000218, "The request body must contain the following parameter: "
                              "'client_assertion' or 'client_secret'.")
        scope = str(form.get("scope") or "")
        resource = {f"{GRAPH_AUDIENCE}/.default": GRAPH_AUDIENCE,
                    f"{EXCHANGE_AUDIENCE}/.default": EXCHANGE_AUDIENCE}.get(scope.strip())
        if resource is None:
            return _aad_error(400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid. "
                              "Client credential flows must have a scope value with /.default suffixed to the "
                              "resource identifier (application ID URI).")
        return web.json_response({"token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S - 1,
                                  "ext_expires_in": TOKEN_LIFETIME_S - 1,
                                  "access_token": self.issue(app, resource)})

    def _check_assertion(self, assertion: str, app: dict[str, Any], request: web.Request) -> web.Response | None:
        def fail(code: int, text: str) -> web.Response:
            return _aad_error(401, "invalid_client", code, text)

        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return fail(50027, "JWT token is invalid or malformed.")
        cert = None
        for c in app.get("certificates", []):
            x5t, x5t256 = thumbprints(c["pem"])
            if str(header.get("x5t#S256", "")).rstrip("=") == x5t256 or str(header.get("x5t", "")).rstrip("=") == x5t:
                cert = c
                break
        if cert is None:
            return fail(700027, "The certificate with identifier used to sign the client assertion is not registered "
                        f"on application {app['clientId']}.")
        public_key = x509.load_pem_x509_certificate(cert["pem"].encode()).public_key()
        audience = f"https://{request.host}{request.path}"
        try:
            claims = jwt.decode(assertion, public_key, algorithms=["RS256", "PS256"],  # type: ignore[arg-type]
                                audience=[audience, f"https://{request.host}/{self.server.state.tenant_id}/v2.0"],
                                options={"require": ["exp", "iss", "sub", "aud"]})
        except jwt.InvalidAudienceError:
            return fail(700212, "No matching federated identity record found for presented assertion audience.")
        except jwt.PyJWTError:
            return fail(700027, "Client assertion failed signature validation.")
        if claims.get("iss") != app["clientId"] or claims.get("sub") != app["clientId"]:
            return fail(700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
        return None

    def issue(self, app: dict[str, Any], resource: str) -> str:
        now = int(time.time())
        perms = app.get("permissions", [])
        roles = [p for p in perms if (p in EXCHANGE_ROLES) == (resource == EXCHANGE_AUDIENCE)]
        tid = self.server.state.tenant_id
        claims = {"aud": resource, "iss": f"https://sts.windows.net/{tid}/", "iat": now, "nbf": now,
                  "exp": now + TOKEN_LIFETIME_S, "appid": app["clientId"], "appidacr": "1", "idtyp": "app",
                  "oid": app.get("servicePrincipalId", app["clientId"]), "sub": app.get("servicePrincipalId",
                                                                                      app["clientId"]),
                  "tid": tid, "roles": roles, "ver": "1.0", "uti": uuid.uuid4().hex}
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": KID})

    # -- checking tokens -------------------------------------------------------------------------
    def verify(self, authorization: str | None, audience: str) -> tuple[dict[str, Any] | None, str]:
        """Return (claims, "") for a valid bearer token of the audience, else (None, reason)."""
        if not authorization or not authorization.startswith("Bearer ") or not authorization[7:].strip():
            return None, "Access token is empty."
        token = authorization[7:].strip()
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"], audience=audience,
                                options={"require": ["exp", "aud", "tid", "appid"]})
        except jwt.ExpiredSignatureError:
            return None, "Lifetime validation failed, the token is expired."
        except jwt.InvalidAudienceError:
            return None, "Invalid audience."
        except jwt.DecodeError:
            return None, "IDX14100: JWT is not well formed, there are no dots (.)." if token.count(".") != 2 \
                else "Signature is invalid."
        except jwt.PyJWTError:
            return None, "Access token validation failure. Invalid audience."
        if claims["tid"] != self.server.state.tenant_id:
            return None, "Access token validation failure. Invalid issuer."
        return claims, ""

    def permissions(self, claims: dict[str, Any]) -> set[str]:
        """The app's current permissions. Real Graph reads roles from the token (a change shows on the next
        token); the sandbox reads the app's live grant so `/_sandbox/apps/.../permissions` acts at once."""
        app = self.server.state.app(str(claims.get("appid")))
        return set(app.get("permissions", [])) if app else set()
