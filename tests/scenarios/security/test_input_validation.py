"""Hostile or malformed input at /api/messages (authentication off: the sandbox on loopback, which is
what the Playground talks to). Every case is refused or handled as plain text: nothing executed that
should not be, and never a 5xx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dialogs import commands
from tests.scenarios.security.spy import SpyRouter
from tests.support import activities
from tests.support.botfixtures import ClientFactory, sandbox_settings
from tests.support.connector import RecordingConnector


async def _client(make_client: ClientFactory, tmp_path: Path) -> tuple[Any, SpyRouter]:
    spy = SpyRouter()
    return await make_client(sandbox_settings(tmp_path), router=spy), spy


MALFORMED_JSON = {
    "truncated": b'{"type": "message", "text": "/compromised al',
    "trailing comma": b'{"type": "message",}',
    "single quotes": b"{'type': 'message'}",
    "empty body": b"",
    "nan literal": b'{"type": NaN}',
    "bare word": b"message",
    "invalid utf-8": b'{"type": "message", "text": "\xff\xfe"}',
    "nul bytes": b"\x00\x00\x00",
}
NOT_AN_ACTIVITY = {
    "json array": [{"type": "message"}],
    "json string": "message",
    "json number": 42,
    "json null": None,
    "no type": {"text": "/compromised alice", "serviceUrl": "http://127.0.0.1:1/"},
    "numeric type": {"type": 5, "serviceUrl": "http://127.0.0.1:1/"},
    "no serviceUrl": {"type": "message", "text": "/compromised alice", "conversation": {"id": "a:1"}},
    "serviceUrl not a string": {"type": "message", "serviceUrl": ["http://127.0.0.1:1/"], "conversation": {"id": "a"}},
    "no conversation": {"type": "message", "text": "/compromised alice", "serviceUrl": "http://127.0.0.1:1/"},
    "text is an object": {"type": "message", "text": {"$ne": 1}, "serviceUrl": "http://127.0.0.1:1/",
                          "conversation": {"id": "a"}},
}


@pytest.mark.parametrize("case", sorted(MALFORMED_JSON))
async def test_malformed_json_is_400(case: str, tmp_path: Path, make_client: ClientFactory,
                                     connector: RecordingConnector) -> None:
    client, spy = await _client(make_client, tmp_path)
    response = await client.post("/api/messages", data=MALFORMED_JSON[case],
                                 headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert spy.executed == [] and connector.total == 0


@pytest.mark.parametrize("case", sorted(NOT_AN_ACTIVITY))
async def test_json_that_is_not_an_activity_is_400(case: str, tmp_path: Path, make_client: ClientFactory,
                                                   connector: RecordingConnector) -> None:
    client, spy = await _client(make_client, tmp_path)
    response = await client.post("/api/messages", data=json.dumps(NOT_AN_ACTIVITY[case]),
                                 headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert spy.executed == [] and connector.total == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml", "application/jsonp", ""])
async def test_wrong_content_type_is_415(content_type: str, tmp_path: Path, make_client: ClientFactory,
                                         connector: RecordingConnector) -> None:
    client, spy = await _client(make_client, tmp_path)
    body = json.dumps(activities.message("/compromised alice", service_url=connector.url))
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post("/api/messages", data=body.encode(), headers=headers)
    assert response.status == 415
    assert spy.executed == [] and connector.total == 0


@pytest.mark.parametrize("size", [256 * 1024 + 1, 1024 * 1024, 8 * 1024 * 1024])
async def test_huge_body_is_413(size: int, tmp_path: Path, make_client: ClientFactory,
                                connector: RecordingConnector) -> None:
    client, spy = await _client(make_client, tmp_path)
    activity = activities.message("/compromised alice", service_url=connector.url)
    activity["padding"] = "x" * size
    response = await client.post("/api/messages", data=json.dumps(activity),
                                 headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert spy.executed == [] and connector.total == 0


async def test_huge_chunked_body_is_413(tmp_path: Path, make_client: ClientFactory,
                                        connector: RecordingConnector) -> None:
    client, spy = await _client(make_client, tmp_path)

    async def chunks() -> Any:
        for _ in range(64):
            yield b"x" * 8192

    response = await client.post("/api/messages", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert spy.executed == [] and connector.total == 0


ODD_ARGUMENTS = {
    "10 kB name": "a" * 10_240,
    "257 characters": "b" * 257,
    "right-to-left override": "alice\u202ecod.exe",
    "zero-width joiner": "al\u200dice",
    "bell character": "alice\x07",
    "escape sequence": "alice\x1b[31m",
    "private use": "alice\ue000",
    "unassigned code point": "alice\U000e0fff",
    "line separator": "alice\u2028bob",
    "only zero-width spaces": "\u200b\u200b",
    "byte order mark": "\ufeffalice",
    "lone surrogate escape": "alice\\ud800",
}


@pytest.mark.parametrize("case", sorted(ODD_ARGUMENTS))
async def test_odd_arguments_are_refused_with_a_sentence(case: str, tmp_path: Path, make_client: ClientFactory,
                                                         connector: RecordingConnector) -> None:
    client, spy = await _client(make_client, tmp_path)
    argument = ODD_ARGUMENTS[case]
    response = await client.post("/api/messages",
                                 json=activities.message(f"/compromised {argument}", service_url=connector.url))
    assert response.status == 200
    parsed = commands.parse(f"/compromised {argument}", personal=True)
    if case == "lone surrogate escape":  # a literal backslash sequence is just text: it reaches the dialogs as-is
        assert [t.command for t in spy.executed] == [commands.Investigate(argument)]
        return
    assert isinstance(parsed, commands.Refused)
    assert spy.executed == []
    [reply] = connector.texts("a:1personal")
    assert reply == parsed.reason and reply.endswith(".")


ODATA_NAMES = [
    "alice' or 1 eq 1 or displayName eq '",
    "x') or startswith(userPrincipalName,'",
    "alice@contoso.com'&$select=passwordProfile",
    "' or accountEnabled eq true",
    "O'Brien",
    "alice%27%20or%201%20eq%201",
    "$filter=mail eq 'carol@contoso.com'",
    "\"Alice Wilson\" or 'x'",
]


@pytest.mark.parametrize("name", ODATA_NAMES)
async def test_odata_looking_names_reach_the_dialogs_as_plain_text(name: str, tmp_path: Path,
                                                                   make_client: ClientFactory,
                                                                   connector: RecordingConnector) -> None:
    client, spy = await _client(make_client, tmp_path)
    response = await client.post("/api/messages",
                                 json=activities.message(f"/compromised {name}", service_url=connector.url))
    assert response.status == 200
    [turn] = spy.executed
    expected = name[1:-1] if name.startswith('"') and name.endswith('"') else name
    assert turn.command == commands.Investigate(expected)


@pytest.mark.parametrize("service_url", ["https://smba.trafficmanager.net/emea/", "http://10.0.0.5:3978/",
                                         "http://169.254.169.254/latest/", "file:///etc/passwd", "not a url"])
async def test_unauthenticated_mode_only_talks_to_a_loopback_connector(service_url: str, tmp_path: Path,
                                                                       make_client: ClientFactory) -> None:
    client, spy = await _client(make_client, tmp_path)
    response = await client.post("/api/messages", json=activities.message("/compromised alice",
                                                                          service_url=service_url))
    assert response.status == 403
    assert spy.executed == []


async def test_unauthenticated_mode_ignores_tokens_instead_of_fetching_keys(
        tmp_path: Path, make_client: ClientFactory, connector: RecordingConnector) -> None:
    # Validating a header would make the bot fetch signing keys from the internet for an anonymous caller.
    client, spy = await _client(make_client, tmp_path)
    token = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJpc3MiOiJodHRwczovL2FwaS5ib3RmcmFtZXdvcmsuY29tIn0.c2ln"
    response = await client.post("/api/messages", json=activities.message("/compromised alice",
                                                                          service_url=connector.url),
                                 headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    assert [type(t.command) for t in spy.executed] == [commands.Investigate]


@pytest.mark.parametrize("kind", ["typing", "messageReaction", "installationUpdate", "event", "endOfConversation",
                                  "somethingNew"])
async def test_unknown_activity_types_are_a_no_op(kind: str, tmp_path: Path, make_client: ClientFactory,
                                                  connector: RecordingConnector) -> None:
    client, spy = await _client(make_client, tmp_path)
    activity = activities.message("/compromised alice", service_url=connector.url)
    activity["type"] = kind
    response = await client.post("/api/messages", json=activity)
    assert response.status == 200
    assert spy.executed == [] and connector.total == 0
