"""`contain login`, `whoami`, `logout`: MSAL's device code flow against the sandbox, as Entra ID serves it."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from typing import Any

import httpx
import pytest

from dialogs.terminal.signin import operator_name, signin_for
from services.store import audit
from services.tenant.signin import SignInError
from tests.dialogs.terminal.conftest import BOB, DAVE, cli, login


async def test_login_through_the_device_code_flow_names_the_person_and_keeps_the_cache_private(
        fast_polling: Any, capsys: pytest.CaptureFixture[str]) -> None:
    runtime = fast_polling
    assert await cli(runtime, "whoami") == 8
    assert "contain login" in capsys.readouterr().err

    assert await login(runtime, DAVE) == 0
    captured = capsys.readouterr()
    assert "/devicelogin and enter the code" in captured.err  # Entra's message, from the devicecode answer
    assert "Signed in as Dave Patel <dave@contoso.com>" in captured.out and "a responder" in captured.out

    cache = runtime.settings.home / "signin" / f"{operator_name()}.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    assert json.loads(cache.read_text())["IdToken"], "MSAL's serialized cache holds the ID token"

    assert await cli(runtime, "whoami") == 0
    out = capsys.readouterr().out
    assert "Dave Patel" in out and "da7e6b1c-4e6f-4081-ac3d-9e1f2a4b6c84" in out

    [row] = [e for e in await audit.recent(runtime.store) if e.event == "operator.signed_in"]
    assert row.actor_id == "da7e6b1c-4e6f-4081-ac3d-9e1f2a4b6c84"

    # Signing in as someone else replaces the person; it never keeps two.
    assert await login(runtime, "erin@contoso.com") == 0
    capsys.readouterr()
    assert await cli(runtime, "whoami") == 0
    assert "Erin Novak" in capsys.readouterr().out
    assert len(json.loads(cache.read_text())["Account"]) == 1

    assert await cli(runtime, "logout") == 0
    assert not cache.exists()
    assert await cli(runtime, "whoami") == 8


async def test_a_non_responder_signs_in_and_is_told_so(fast_polling: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert await login(fast_polling, BOB) == 0
    assert "not a member of the responders group" in capsys.readouterr().out


async def test_the_token_endpoint_answers_authorization_pending_until_the_user_signs_in(fast_polling: Any) -> None:
    runtime = fast_polling
    signin = await signin_for(runtime)
    flow = await asyncio.to_thread(signin.begin)
    assert set(flow) >= {"user_code", "device_code", "verification_uri", "expires_in", "interval", "message"}
    token_url = f"{runtime.endpoints.authority}/oauth2/v2.0/token"
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": signin.client_id,
            "device_code": flow["device_code"]}
    async with httpx.AsyncClient(verify=str(runtime.endpoints.ca_bundle)) as client:
        pending = (await client.post(token_url, data=form)).json()
        assert pending["error"] == "authorization_pending" and pending["error_codes"] == [70016]
        waiting = asyncio.ensure_future(asyncio.to_thread(signin.finish, flow))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        done = await client.post(f"{runtime.sandbox.url}/_sandbox/devicelogin",
                                 json={"userCode": flow["user_code"], "user": DAVE})
        assert done.status_code == 200
        person = await asyncio.wait_for(waiting, 10)
        assert (person.id, person.username) == ("da7e6b1c-4e6f-4081-ac3d-9e1f2a4b6c84", DAVE)
        # A device code is redeemed once.
        again = (await client.post(token_url, data=form)).json()
        assert again["error"] == "invalid_grant"


async def test_an_expired_code_ends_the_sign_in_with_expired_token(fast_polling: Any) -> None:
    runtime = fast_polling
    runtime.sandbox.authority.device_codes.lifetime_s = 1
    signin = await signin_for(runtime)
    flow = await asyncio.to_thread(signin.begin)
    flow["expires_at"] = time.time() + 60  # MSAL keeps polling; the sandbox is the one that says it expired
    with pytest.raises(SignInError, match="expired"):
        await asyncio.wait_for(asyncio.to_thread(signin.finish, flow), 10)
    assert runtime.sandbox.authority.device_codes.codes == {}


async def test_a_declined_sign_in_and_a_disabled_account(fast_polling: Any, capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    runtime = fast_polling
    signin = await signin_for(runtime)
    flow = await asyncio.to_thread(signin.begin)
    waiting = asyncio.ensure_future(asyncio.to_thread(signin.finish, flow))
    async with httpx.AsyncClient() as client:
        refused = await client.post(f"{runtime.sandbox.url}/_sandbox/devicelogin",
                                    json={"userCode": flow["user_code"], "user": "nobody@contoso.com"})
        assert refused.status_code == 400
        await client.post(f"{runtime.sandbox.url}/_sandbox/devicelogin",
                          json={"userCode": flow["user_code"], "decline": True})
    with pytest.raises(SignInError, match="declined"):
        await asyncio.wait_for(waiting, 10)


async def test_a_confidential_app_cannot_use_the_device_code_flow(runtime: Any) -> None:
    """As in Entra: the grant needs an app registered as a public client."""
    async with httpx.AsyncClient(verify=str(runtime.endpoints.ca_bundle)) as client:
        answer = await client.post(f"{runtime.endpoints.authority}/oauth2/v2.0/devicecode",
                                   data={"client_id": runtime.endpoints.client_id, "scope": "User.Read"})
    assert answer.status_code == 401 and answer.json()["error_codes"] == [7000218]


async def test_a_disabled_account_loses_its_sign_in_at_the_next_refresh(
        fast_polling: Any, capsys: pytest.CaptureFixture[str]) -> None:
    runtime = fast_polling
    assert await login(runtime, DAVE) == 0
    signin = await signin_for(runtime)
    assert (await asyncio.to_thread(signin.current)) is not None
    runtime.sandbox.state.find_user(DAVE)["accountEnabled"] = False
    app = signin._application()
    [account] = app.get_accounts()
    refreshed = await asyncio.to_thread(app.acquire_token_silent_with_error, ["User.Read"], account,
                                        force_refresh=True)
    assert refreshed is not None and refreshed.get("error") == "invalid_grant"
    assert "AADSTS50057" in refreshed["error_description"]
