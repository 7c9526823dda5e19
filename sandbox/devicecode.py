"""The sandbox identity platform's device authorization grant, as Entra ID serves it to a public client:

    POST /{tenant}/oauth2/v2.0/devicecode     client_id, scope → user_code, device_code, verification_uri,
                                              expires_in, interval, message
    POST /{tenant}/oauth2/v2.0/token          grant_type=urn:ietf:params:oauth:grant-type:device_code →
                                              authorization_pending (AADSTS70016) until the user has signed
                                              in, expired_token (AADSTS70019) after expires_in,
                                              authorization_declined, then the tokens (id token, access
                                              token, refresh token, client_info) exactly once
    POST /{tenant}/oauth2/v2.0/token          grant_type=refresh_token

The user's side (a browser at the verification page, entering the code and signing in) is played by
`GET/POST /devicelogin` (a form) or `POST /_sandbox/devicelogin {"userCode", "user", "decline"?}`.
The sandbox has no passwords: completing the user's side names the account that signs in. Only an
app registered as a public client (`isFallbackPublicClient`) may use these grants, as in Entra.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from aiohttp import web

from sandbox.auth import GRAPH_AUDIENCE, KID, _aad_error

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_CODE_LIFETIME_S = 900
DEVICE_CODE_INTERVAL_S = 5
REFRESH_LIFETIME_S = 90 * 24 * 3600
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ23456789"


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    user_id: str | None = None
    declined: bool = False
    redeemed: bool = False


class DeviceCodes:
    """Pending device authorizations, in memory: a sign-in is one process's conversation with Entra."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.codes: dict[str, DeviceCode] = {}
        self.interval_s = DEVICE_CODE_INTERVAL_S
        self.lifetime_s = DEVICE_CODE_LIFETIME_S

    # -- helpers ---------------------------------------------------------------------------------
    def pending(self) -> list[DeviceCode]:
        """Codes waiting for the user's side (tests and the demo complete them)."""
        now = time.time()
        return [c for c in self.codes.values() if c.user_id is None and not c.declined and c.expires_at > now]

    def by_user_code(self, user_code: str) -> DeviceCode | None:
        wanted = user_code.strip().upper().replace("-", "")
        return next((c for c in self.codes.values() if c.user_code == wanted), None)

    def complete(self, user_code: str, user: str, *, decline: bool = False) -> str | None:
        """The user's side: sign `user` in for `user_code` (or decline). None on success, else why not."""
        code = self.by_user_code(user_code)
        if code is None or code.redeemed:
            return "That code is not valid; check it and try again."
        if code.expires_at <= time.time():
            return "That code has expired; start the sign-in again on your device."
        if decline:
            code.declined = True
            return None
        account = self.server.state.find_user(user)
        if account is None:
            return f"There is no account {user} in this tenant."
        if not account.get("accountEnabled", True):
            return "Your account is disabled; ask an administrator."
        code.user_id = account["id"]
        return None

    def _public_client(self, client_id: str) -> tuple[dict[str, Any] | None, web.Response | None]:
        app = self.server.state.app(client_id)
        if app is None:
            return None, _aad_error(400, "unauthorized_client", 700016, f"Application with identifier '{client_id}' "
                                    f"was not found in the directory '{self.server.state.tenant['displayName']}'.")
        if not app.get("isFallbackPublicClient"):
            return None, _aad_error(401, "invalid_client", 7000218, "The request body must contain the following "
                                    "parameter: 'client_assertion' or 'client_secret'.")
        return app, None

    # -- endpoints -------------------------------------------------------------------------------
    async def devicecode(self, request: web.Request) -> web.Response:
        if (err := self.server.authority._check_tenant(request)) is not None:
            return err
        form = await request.post()
        client_id = str(form.get("client_id") or "")
        scope = str(form.get("scope") or "").strip()
        if not client_id:
            return _aad_error(400, "invalid_request", 900144, "The request body must contain the following "
                              "parameter: 'client_id'.")
        if not scope:
            return _aad_error(400, "invalid_request", 900144, "The request body must contain the following "
                              "parameter: 'scope'.")
        _, problem = self._public_client(client_id)
        if problem is not None:
            return problem
        user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(9))
        code = DeviceCode(device_code=secrets.token_urlsafe(48), user_code=user_code, client_id=client_id,
                          scope=scope, expires_at=time.time() + self.lifetime_s)
        self.codes[code.device_code] = code
        uri = f"https://{request.host}/devicelogin"
        return web.json_response({
            "user_code": user_code, "device_code": code.device_code, "verification_uri": uri,
            "expires_in": self.lifetime_s, "interval": self.interval_s,
            "message": f"To sign in, use a web browser to open the page {uri} and enter the code {user_code} "
                       "to authenticate."})

    async def device_code_grant(self, request: web.Request, form: Any) -> web.Response:
        client_id = str(form.get("client_id") or "")
        _, problem = self._public_client(client_id)
        if problem is not None:
            return problem
        code = self.codes.get(str(form.get("device_code") or ""))
        if code is None or code.client_id != client_id or code.redeemed:
            return _aad_error(400, "invalid_grant", 70000, "The provided value for the 'device_code' is not valid.")
        if code.expires_at <= time.time():
            self.codes.pop(code.device_code, None)
            return _aad_error(400, "expired_token", 70019, "Verification code expired.")
        if code.declined:
            self.codes.pop(code.device_code, None)
            return _aad_error(400, "authorization_declined", 70000, "The user declined the authorization request.")
        if code.user_id is None:
            return _aad_error(400, "authorization_pending", 70016, "The provided request has not yet been authorized "
                              "by the user. The user must input their code.")
        code.redeemed = True
        self.codes.pop(code.device_code, None)
        return self._tokens(request, client_id=client_id, user_id=code.user_id, scope=code.scope)

    async def refresh_grant(self, request: web.Request, form: Any) -> web.Response:
        client_id = str(form.get("client_id") or "")
        _, problem = self._public_client(client_id)
        if problem is not None:
            return problem
        authority = self.server.authority
        try:
            claims = jwt.decode(str(form.get("refresh_token") or ""), authority.public_key, algorithms=["RS256"],
                                audience=f"refresh:{client_id}", options={"require": ["exp", "oid", "aud"]})
        except jwt.ExpiredSignatureError:
            return _aad_error(400, "invalid_grant", 700082, "The refresh token has expired due to inactivity.")
        except jwt.PyJWTError:
            return _aad_error(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        account = self.server.state.find_user(str(claims["oid"]))
        if account is None:
            return _aad_error(400, "invalid_grant", 50034, "The user account does not exist in the directory.")
        if not account.get("accountEnabled", True):
            return _aad_error(400, "invalid_grant", 50057, "The user account is disabled.")
        revoked = account.get("signInSessionsValidFromDateTime")
        if revoked and _epoch(revoked) > int(claims.get("iat", 0)):
            return _aad_error(400, "invalid_grant", 50173, "The provided grant has expired due to it being revoked, "
                              "a fresh auth token is needed.")
        return self._tokens(request, client_id=client_id, user_id=account["id"],
                            scope=str(form.get("scope") or claims.get("scp") or ""))

    def _tokens(self, request: web.Request, *, client_id: str, user_id: str, scope: str) -> web.Response:
        authority = self.server.authority
        user = self.server.state.user(user_id)
        tid = self.server.state.tenant_id
        now = int(time.time())
        lifetime = 3600
        key = authority.private_key
        api_scopes = " ".join(s for s in scope.split() if s not in ("openid", "profile", "offline_access", "email"))
        sub = base64.urlsafe_b64encode(uuid.uuid5(uuid.NAMESPACE_URL, f"{client_id}/{user_id}").bytes).decode()
        id_token = jwt.encode({
            "aud": client_id, "iss": f"https://{request.host}/{tid}/v2.0", "iat": now, "nbf": now,
            "exp": now + lifetime, "name": user.get("displayName", ""), "oid": user_id,
            "preferred_username": user["userPrincipalName"], "sub": sub.rstrip("="), "tid": tid,
            "ver": "2.0", "uti": uuid.uuid4().hex}, key, algorithm="RS256", headers={"kid": KID})
        access_token = jwt.encode({
            "aud": GRAPH_AUDIENCE, "iss": f"https://sts.windows.net/{tid}/", "iat": now, "nbf": now,
            "exp": now + lifetime, "appid": client_id, "appidacr": "0", "idtyp": "user", "oid": user_id,
            "upn": user["userPrincipalName"], "name": user.get("displayName", ""), "scp": api_scopes or "User.Read",
            "sub": sub.rstrip("="), "tid": tid, "ver": "1.0", "uti": uuid.uuid4().hex},
            key, algorithm="RS256", headers={"kid": KID})
        refresh_token = jwt.encode({"aud": f"refresh:{client_id}", "oid": user_id, "iat": now,
                                    "exp": now + REFRESH_LIFETIME_S, "scp": scope, "jti": uuid.uuid4().hex},
                                   key, algorithm="RS256")
        client_info = base64.urlsafe_b64encode(json.dumps({"uid": user_id, "utid": tid}).encode()).decode().rstrip("=")
        granted = " ".join(dict.fromkeys([*(api_scopes or "User.Read").split(), "openid", "profile", "email"]))
        return web.json_response({"token_type": "Bearer", "scope": granted, "expires_in": lifetime - 1,
                                  "ext_expires_in": lifetime - 1, "access_token": access_token,
                                  "refresh_token": refresh_token, "id_token": id_token, "client_info": client_info})

    # -- the user's side -------------------------------------------------------------------------
    async def page(self, request: web.Request) -> web.Response:
        return web.Response(content_type="text/html", text=_PAGE.format(notice=""))

    async def page_submit(self, request: web.Request) -> web.Response:
        form = await request.post()
        problem = self.complete(str(form.get("code") or ""), str(form.get("user") or ""),
                                decline=bool(form.get("decline")))
        notice = html.escape(problem or "You have signed in to Contain on your device; you may close this window.")
        return web.Response(content_type="text/html", text=_PAGE.format(notice=f"<p>{notice}</p>"),
                            status=400 if problem else 200)


def _epoch(value: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Sandbox sign-in</title></head><body>
<h1>Sign in (sandbox tenant)</h1>{notice}
<form method="post" action="/devicelogin">
<p><label>Code <input name="code" autocomplete="off"></label></p>
<p><label>Account <input name="user" placeholder="dave@contoso.com"></label></p>
<p><button type="submit">Sign in</button> <button type="submit" name="decline" value="1">Cancel</button></p>
</form></body></html>"""


async def admin_complete(request: web.Request) -> web.Response:
    """POST /_sandbox/devicelogin {"userCode": "...", "user": "dave@contoso.com", "decline": false}; with no
    userCode, the only pending code (there must be exactly one)."""
    from sandbox.admin import _json, _problem, _server

    server = _server(request)
    body = await _json(request)
    if not isinstance(body, dict):
        return _problem("The body must be a JSON object.")
    codes = server.authority.device_codes
    user_code = str(body.get("userCode") or "")
    if not user_code:
        pending = codes.pending()
        if len(pending) != 1:
            return _problem(f"{len(pending)} sign-ins are waiting; name the userCode.")
        user_code = pending[0].user_code
    problem = codes.complete(user_code, str(body.get("user") or ""), decline=bool(body.get("decline")))
    if problem is not None:
        return _problem(problem)
    return web.json_response({"userCode": user_code, "completed": True})


async def admin_pending(request: web.Request) -> web.Response:
    from sandbox.admin import _server

    server = _server(request)
    return web.json_response({"value": [{"userCode": c.user_code, "clientId": c.client_id}
                                        for c in server.authority.device_codes.pending()]})
