"""Scenario tests: real Bot Framework activity JSON through the real aiohttp app and CloudAdapter,
with a recording Bot Connector stand-in as the serviceUrl."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from dialogs.router import InvokeCard, Outcome, Poster, Reply, Router, Turn, UpdateCard, plain_card
from tests.support import activities, botauth
from tests.support.botfixtures import ClientFactory, sandbox_settings
from tests.support.connector import RecordingConnector


async def post(client: TestClient, activity: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post("/api/messages", json=activity, headers=headers)


async def test_slash_command_replies_in_the_conversation(sandbox_client: TestClient,
                                                         connector: RecordingConnector) -> None:
    response = await post(sandbox_client, activities.message("/compromised alice", service_url=connector.url))
    assert response.status == 200
    assert connector.texts("a:1personal") == ["Investigating alice…"]
    assert connector.authorizations == [None]  # authentication off: no outbound token


async def test_mention_in_a_channel_is_a_command(sandbox_client: TestClient, connector: RecordingConnector) -> None:
    activity = activities.message("compromised \"Alice Wilson\"", service_url=connector.url,
                                  conversation_id="19:security@thread.tacv2", conversation_type="channel",
                                  mention_bot=True)
    assert (await post(sandbox_client, activity)).status == 200
    assert connector.texts("19:security@thread.tacv2") == ["Investigating Alice Wilson…"]


async def test_healthz_reports_mode_without_secrets(sandbox_client: TestClient) -> None:
    response = await sandbox_client.get("/healthz")
    body = await response.json()
    assert response.status == 200
    assert body["status"] == "ok" and body["sandbox"] is True and body["auth"] == "off"
    assert set(body) == {"status", "sandbox", "version", "auth"}


def _card_router(events: list[str]) -> Router:
    """A router whose 'confirm' verb answers with a running card, then works after the ack."""
    router = Router()

    async def confirm(turn: Turn) -> Outcome:
        events.append("handler")

        async def after(poster: Poster) -> None:
            events.append("after")
            await poster.post(UpdateCard(plain_card("Done: 1 of 1 verified.")))
            await poster.post(Reply(text="Summary posted in the thread."))

        return Outcome(outputs=(InvokeCard(plain_card("Running…")),), after=after)

    router.on_verb("confirm", confirm)
    return router


async def test_card_click_returns_the_card_in_the_invoke_response(
        tmp_path: Any, make_client: ClientFactory, connector: RecordingConnector) -> None:
    # Under CloudAdapter a card returned by an adaptiveCard/action handler is serialised twice and the
    # channel gets HTTP 500; the bot writes the InvokeResponse itself. This test catches a regression.
    events: list[str] = []
    client = await make_client(sandbox_settings(tmp_path), router=_card_router(events))
    activity = activities.invoke("confirm", {"request": "req-1"}, service_url=connector.url)
    response = await post(client, activity)
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["body"][0]["text"] == "Running…"
    conversation = activity["conversation"]["id"]
    await connector.wait_for(lambda c: c.sent.get(conversation))
    assert events == ["handler", "after"]  # the work ran after the acknowledgement
    [update] = connector.updates[conversation]
    assert update["id"] == "1700000000001"  # the clicked card, updated in place
    assert update["attachments"][0]["content"]["body"][0]["text"] == "Done: 1 of 1 verified."
    assert connector.texts(conversation) == ["Summary posted in the thread."]


async def test_unknown_verb_answers_with_a_card_not_an_error(sandbox_client: TestClient,
                                                             connector: RecordingConnector) -> None:
    response = await post(sandbox_client, activities.invoke("no-such-verb", service_url=connector.url))
    assert response.status == 200
    body = await response.json()
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "no longer recognised" in body["value"]["body"][0]["text"]
    assert connector.total == 0


async def test_other_invokes_are_acknowledged_and_ignored(sandbox_client: TestClient,
                                                          connector: RecordingConnector) -> None:
    activity = activities.invoke("x", service_url=connector.url, name="composeExtension/query")
    response = await post(sandbox_client, activity)
    assert response.status == 200
    assert connector.total == 0


async def test_private_message_opens_a_one_to_one_chat(tmp_path: Any, make_client: ClientFactory,
                                                       connector: RecordingConnector) -> None:
    from dialogs.router import PrivateMessage

    router = Router()

    async def reveal(turn: Turn) -> Outcome:
        async def after(poster: Poster) -> None:
            await poster.post(PrivateMessage(turn.user, "Temporary password: Xy-123"))

        return Outcome(outputs=(InvokeCard(plain_card("Done.")),), after=after)

    router.on_verb("reveal", reveal)
    client = await make_client(sandbox_settings(tmp_path), router=router)
    activity = activities.invoke("reveal", service_url=connector.url)
    assert (await post(client, activity)).status == 200
    await connector.wait_for(lambda c: c.sent.get("a:personal-1"))
    [created] = connector.created
    assert created["members"] == [{"id": activities.DAVE["id"]}]
    assert created["isGroup"] is False
    assert connector.texts("a:personal-1") == ["Temporary password: Xy-123"]
    # Nowhere else: the channel thread got nothing but the update-free invoke answer.
    assert activity["conversation"]["id"] not in connector.sent


async def test_bot_added_to_a_team_hands_over_the_conversation_reference(
        tmp_path: Any, make_client: ClientFactory, connector: RecordingConnector) -> None:
    kept: list[tuple[Turn, dict[str, Any]]] = []

    async def keep(turn: Turn, reference: dict[str, Any]) -> None:
        kept.append((turn, reference))

    client = await make_client(sandbox_settings(tmp_path), router=Router(on_reference=keep))
    response = await post(client, activities.conversation_update(service_url=connector.url))
    assert response.status == 200
    [(turn, reference)] = kept
    assert turn.bot_added and turn.team_id == "19:team@thread.tacv2"
    assert reference["conversation"]["id"] == "19:security@thread.tacv2"
    assert reference["serviceUrl"] == connector.url
    assert reference["bot"]["id"] == activities.BOT_ID
    assert connector.total == 0


async def test_authenticated_turn_replies_with_an_outbound_token(secured_client: TestClient,
                                                                 connector: RecordingConnector,
                                                                 openid: botauth.OpenIdStandIn) -> None:
    activity = activities.message("/compromised bob", service_url=connector.url, tenant=botauth.TENANT_ID)
    response = await post(secured_client, activity, token=openid.token(service_url=connector.url))
    assert response.status == 200
    assert connector.texts("a:1personal") == ["Investigating bob…"]
    assert connector.authorizations == [f"Bearer {botauth.OUTBOUND_TOKEN}"]
