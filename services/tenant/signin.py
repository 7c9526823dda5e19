"""Who is at the terminal: a person signed in once with Microsoft Entra ID's device code flow, through
MSAL's PublicClientApplication, against the same authority as the tenant app.

    signin = OperatorSignIn(authority=..., client_id=..., cache_path=..., ca_bundle=...)
    flow = signin.begin()              # flow["message"]: where to go and which code to enter
    person = signin.finish(flow)       # blocks, polling, until the user has signed in (or it expires)
    person = signin.current()          # the signed-in person, refreshed through Entra when due; None if none
    signin.logout()

The token cache is MSAL's SerializableTokenCache, one file per operator, mode 0600. The person's object
id and name come from the ID token Entra issued; a name typed on the command line proves nothing.
Every call blocks (MSAL uses requests): run them in a worker thread.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msal

from services.tenant.auth import _aadsts, _session_trusting
from services.tenant.errors import TenantError

SCOPES = ["User.Read"]  # MSAL adds openid, profile and offline_access


@dataclass(frozen=True, slots=True)
class Operator:
    """The signed-in person: Entra object id, display name, UPN, tenant."""

    id: str
    name: str
    username: str
    tenant_id: str


class SignInError(TenantError):
    """The sign-in did not complete (expired, declined, refused by Entra); the sentence says which."""


def _claims(id_token: str) -> dict[str, Any]:
    payload = id_token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


class OperatorSignIn:
    def __init__(self, *, authority: str, client_id: str, cache_path: Path, ca_bundle: Path | None = None) -> None:
        self.authority, self.client_id, self.cache_path = authority, client_id, cache_path
        self._ca_bundle = ca_bundle
        self._cache = msal.SerializableTokenCache()
        self._app: msal.PublicClientApplication | None = None
        if cache_path.is_file():
            with contextlib.suppress(ValueError, OSError):
                self._cache.deserialize(cache_path.read_text(encoding="utf-8"))

    def _application(self) -> msal.PublicClientApplication:
        if self._app is None:
            kwargs: dict[str, Any] = {}
            if self._ca_bundle is not None:
                kwargs["http_client"] = _session_trusting(self._ca_bundle)
            try:
                self._app = msal.PublicClientApplication(self.client_id, authority=self.authority,
                                                         token_cache=self._cache, instance_discovery=False, **kwargs)
            except ValueError as exc:
                raise SignInError(f"Contain could not reach the sign-in authority: {str(exc).split('.')[0]}.") \
                    from None
            except Exception as exc:  # network trouble during authority discovery
                raise SignInError(f"Contain could not reach the sign-in authority {self.authority} "
                                  f"({type(exc).__name__}).") from None
        return self._app

    def _save(self) -> None:
        """Write the cache, readable by this operator only (0600, in a 0700 folder), atomically."""
        if not self._cache.has_state_changed:
            return
        folder = self.cache_path.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        tmp = self.cache_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(self._cache.serialize())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.cache_path)
        self._cache.has_state_changed = False

    # -- sign-in ---------------------------------------------------------------------------------
    def begin(self) -> dict[str, Any]:
        """Start the device code flow; the returned flow's "message" tells the person what to do."""
        flow = self._application().initiate_device_flow(scopes=SCOPES)
        if "user_code" not in flow:
            raise SignInError(f"Entra ID refused to start the sign-in: {_aadsts(flow)}.")
        return dict(flow)

    def finish(self, flow: dict[str, Any]) -> Operator:
        """Poll until the person has signed in; their identity from the ID token, the cache saved."""
        result = self._application().acquire_token_by_device_flow(flow)
        if "access_token" not in result:
            error = str(result.get("error") or "")
            if error == "expired_token" or (not error and flow.get("expires_at", 0) <= 0):
                raise SignInError("The sign-in code expired before it was used; run `contain login` again.")
            if error == "authorization_declined":
                raise SignInError("The sign-in was declined; nobody is signed in.")
            raise SignInError(f"The sign-in did not complete: {_aadsts(result)}.")
        claims = result.get("id_token_claims") or _claims(str(result.get("id_token") or "e30.e30."))
        person = _operator(claims)
        app = self._application()
        for account in app.get_accounts():  # one person per operator: whoever signed in before is signed out
            if account.get("local_account_id") != person.id:
                app.remove_account(account)
        self._save()
        return person

    def current(self) -> Operator | None:
        """The signed-in person, or None. A token that is due is refreshed through Entra, so a disabled
        account or revoked sessions end the sign-in."""
        app = self._application()
        accounts = app.get_accounts()
        if not accounts:
            return None
        account = accounts[0]
        result = app.acquire_token_silent(SCOPES, account=account)
        self._save()
        if not result or "access_token" not in result:
            return None
        found = self._cache.search(msal.TokenCache.CredentialType.ID_TOKEN,
                                   query={"home_account_id": account["home_account_id"]})
        id_token = next((str(e.get("secret")) for e in found if e.get("secret")), None)
        if id_token is None:
            return None
        return _operator(_claims(id_token))

    def logout(self) -> bool:
        """Forget the signed-in account here (the cache file with its tokens); True if someone was."""
        had = any(True for _ in self._cache.search(msal.TokenCache.CredentialType.ACCOUNT))
        self._cache = msal.SerializableTokenCache()
        self._app = None
        with contextlib.suppress(FileNotFoundError):
            self.cache_path.unlink()
        return had


def _operator(claims: dict[str, Any]) -> Operator:
    oid = str(claims.get("oid") or "")
    if not oid:
        raise SignInError("The ID token names no object id; the sign-in cannot identify a person.")
    username = str(claims.get("preferred_username") or "")
    return Operator(id=oid, name=str(claims.get("name") or username or oid), username=username,
                    tenant_id=str(claims.get("tid") or ""))
