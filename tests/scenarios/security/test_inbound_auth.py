"""With MicrosoftAppId set, every activity needs a valid Bot Framework token from the right tenant.
Each case must be refused (401, or 403 for the tenant), with no handler run, no Bot Connector call,
and never a 5xx. Tokens are validated offline against our own keys served by a local OpenID stand-in."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.scenarios.security.spy import SpyRouter
from tests.support import activities, botauth
from tests.support.botfixtures import ClientFactory, secured_settings
from tests.support.connector import RecordingConnector

Activity = dict[str, Any]
HeaderMaker = Callable[[botauth.OpenIdStandIn, str], str | None]


def _bearer(token: str) -> str:
    return f"Bearer {token}"


def _unsigned(stand_in: botauth.OpenIdStandIn, url: str) -> str:
    claims = {"iss": botauth.CHANNEL_ISSUER, "aud": botauth.APP_ID, "serviceurl": url, "exp": int(time.time()) + 600}
    return _bearer(jwt.encode(claims, None, algorithm="none"))


def _tampered(stand_in: botauth.OpenIdStandIn, url: str) -> str:
    header, payload, signature = stand_in.token(service_url=url, audience="someone-else").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["aud"] = botauth.APP_ID
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return _bearer(f"{header}.{forged}.{signature}")


def _hmac_confusion(stand_in: botauth.OpenIdStandIn, url: str) -> str:
    claims = {"iss": botauth.CHANNEL_ISSUER, "aud": botauth.APP_ID, "serviceurl": url, "exp": int(time.time()) + 600}
    return _bearer(jwt.encode(claims, "the-public-key-as-a-secret-000000", algorithm="HS256",
                              headers={"kid": stand_in.channel_key.kid}))


# name -> Authorization header (None: no header at all)
UNAUTHENTICATED: dict[str, HeaderMaker] = {
    "no token": lambda s, u: None,
    "empty header": lambda s, u: "",
    "bearer without token": lambda s, u: "Bearer ",
    "basic scheme": lambda s, u: "Basic " + base64.b64encode(b"admin:admin").decode(),
    "lowercase scheme": lambda s, u: "bearer " + s.token(service_url=u),
    "not a jwt": lambda s, u: "Bearer not-a-token",
    "three words": lambda s, u: "Bearer a b",
    "garbage segments": lambda s, u: "Bearer aaa.bbb.ccc",
    "unsigned alg none": _unsigned,
    "hmac with a guessed key": _hmac_confusion,
    "bad signature": lambda s, u: _bearer(s.token(service_url=u, key=s.other_key, kid=s.channel_key.kid)),
    "tampered payload": _tampered,
    "unknown key id": lambda s, u: _bearer(s.token(service_url=u, kid="no-such-key")),
    "wrong audience": lambda s, u: _bearer(s.token(service_url=u, audience="00000000-0000-0000-0000-000000000bad")),
    "missing audience": lambda s, u: _bearer(s.token(service_url=u, drop=("aud",))),
    "expired token": lambda s, u: _bearer(s.token(service_url=u, expires_in=-3600)),
    "not yet valid": lambda s, u: _bearer(s.token(service_url=u, extra={"nbf": int(time.time()) + 3600})),
    "another issuer": lambda s, u: _bearer(s.token(service_url=u, issuer="https://evil.example.com/")),
    "missing issuer": lambda s, u: _bearer(s.token(service_url=u, drop=("iss",))),
    "emulator issuer, channel key": lambda s, u: _bearer(s.token(
        service_url=u, issuer="https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/",
        extra={"ver": "1.0", "appid": botauth.APP_ID})),
    "token for another serviceUrl": lambda s, u: _bearer(s.token(service_url="http://127.0.0.1:9/")),
    "missing serviceUrl claim": lambda s, u: _bearer(s.token(service_url=u, drop=("serviceurl",))),
}


def _message(url: str, tenant: str | None) -> Activity:
    return activities.message("/compromised alice", service_url=url, tenant=tenant)


def _invoke(url: str, tenant: str | None) -> Activity:
    return activities.invoke("confirm", {"request": "req-1"}, service_url=url, tenant=tenant)


KINDS = {"message": _message, "invoke": _invoke}


async def _refused(make_client: ClientFactory, tmp_path: Path, openid: botauth.OpenIdStandIn,
                   connector: RecordingConnector, activity: Activity, header: str | None) -> int:
    settings = secured_settings(tmp_path)
    spy = SpyRouter()
    client = await make_client(settings, adapter=botauth.offline_adapter(settings, openid), router=spy)
    headers = {} if header is None else {"Authorization": header}
    response = await client.post("/api/messages", json=activity, headers=headers)
    assert response.status < 500
    assert spy.executed == []
    assert connector.total == 0
    return response.status


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("case", sorted(UNAUTHENTICATED))
async def test_unauthenticated_activity_is_refused(case: str, kind: str, tmp_path: Path, make_client: ClientFactory,
                                                   openid: botauth.OpenIdStandIn,
                                                   connector: RecordingConnector) -> None:
    activity = KINDS[kind](connector.url, botauth.TENANT_ID)
    header = UNAUTHENTICATED[case](openid, connector.url)
    assert await _refused(make_client, tmp_path, openid, connector, activity, header) == 401


TENANT_CASES: dict[str, Callable[[Activity], None]] = {
    "other tenant": lambda a: (a["conversation"].update(tenantId=botauth.OTHER_TENANT_ID),
                               a["channelData"].update(tenant={"id": botauth.OTHER_TENANT_ID})),
    "no tenant": lambda a: (a["conversation"].pop("tenantId"), a["channelData"].pop("tenant")),
    "channelData tenant differs": lambda a: a["channelData"].update(tenant={"id": botauth.OTHER_TENANT_ID}),
    "conversation tenant differs": lambda a: a["conversation"].update(tenantId=botauth.OTHER_TENANT_ID),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("case", sorted(TENANT_CASES))
async def test_activity_from_another_tenant_is_refused(case: str, kind: str, tmp_path: Path,
                                                       make_client: ClientFactory, openid: botauth.OpenIdStandIn,
                                                       connector: RecordingConnector) -> None:
    activity = KINDS[kind](connector.url, botauth.TENANT_ID)
    TENANT_CASES[case](activity)
    header = _bearer(openid.token(service_url=connector.url))  # a valid token: only the tenant is wrong
    assert await _refused(make_client, tmp_path, openid, connector, activity, header) == 403


async def test_a_valid_token_from_the_tenant_is_served(tmp_path: Path, make_client: ClientFactory,
                                                       openid: botauth.OpenIdStandIn,
                                                       connector: RecordingConnector) -> None:
    # The control case: without it every refusal above could be an app that refuses everything.
    settings = secured_settings(tmp_path)
    spy = SpyRouter()
    client = await make_client(settings, adapter=botauth.offline_adapter(settings, openid), router=spy)
    activity = _invoke(connector.url, botauth.TENANT_ID)
    response = await client.post("/api/messages", json=activity,
                                 headers={"Authorization": _bearer(openid.token(service_url=connector.url))})
    assert response.status == 200
    assert [t.verb for t in spy.executed] == ["confirm"]
    assert any(path.startswith("/channel/") for path in openid.requests)  # validated against our stand-in
