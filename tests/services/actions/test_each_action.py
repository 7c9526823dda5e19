"""Each action on alice through the real composition root: it succeeds, verifies, the sandbox's own
state agrees, and running it again is skipped without a second write."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from services.vocabulary import ActionId, ActionStatus
from tests.services.actions.helpers import incident_for, run, user, writes

SUSPICIOUS_RULES = {"Sync", "..", "RSS"}


def _when(value: str | None) -> datetime:
    assert value, "the sandbox has no timestamp"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _alice(state: Any) -> dict[str, Any]:
    return state.find_user("alice@contoso.com")  # type: ignore[no-any-return]


def _mailbox(state: Any) -> dict[str, Any]:
    return state.mailbox(_alice(state)["id"])  # type: ignore[no-any-return]


def _since(opened: datetime) -> datetime:
    return opened.astimezone(UTC).replace(microsecond=0)


CHECKS: dict[ActionId, Callable[[Any, datetime], bool]] = {
    ActionId.RESET_PASSWORD: lambda s, t0: _when(_alice(s)["lastPasswordChangeDateTime"]) >= _since(t0)
    and _alice(s)["_passwordProfile"]["forceChangePasswordNextSignIn"] is True,
    ActionId.REVOKE_SESSIONS: lambda s, t0: _when(_alice(s)["signInSessionsValidFromDateTime"]) >= _since(t0),
    ActionId.BLOCK_SIGNIN: lambda s, t0: _alice(s)["accountEnabled"] is False,
    ActionId.CONFIRM_COMPROMISED: lambda s, t0: s.risky_user(_alice(s)["id"])["riskState"] == "confirmedCompromised",
    ActionId.DISABLE_INBOX_RULES: lambda s, t0: {r["name"]: r["enabled"] for r in _mailbox(s)["inboxRules"]}
    == {"Sync": False, "..": False, "RSS": False, "Newsletters": True, "Junk E-Mail Rule": True,
        # Exchange's automatic-reply rules stay on: turning them off would break alice's out-of-office.
        "Microsoft.Exchange.OOF.KnownSenders.Template": True,
        "Microsoft.Exchange.OOF.AllExternalSenders.Template": True},
    ActionId.REMOVE_FORWARDING: lambda s, t0: _mailbox(s)["forwardingSmtpAddress"] is None
    and _mailbox(s)["deliverToMailboxAndForward"] is False,
    ActionId.REMOVE_DELEGATES: lambda s, t0: not _mailbox(s)["fullAccess"] and not _mailbox(s)["sendAs"],
    ActionId.RESET_MFA: lambda s, t0: [m["@odata.type"] for m in s.data["authenticationMethods"][_alice(s)["id"]]]
    == ["#microsoft.graph.passwordAuthenticationMethod"],
    ActionId.REVOKE_OAUTH_GRANTS: lambda s, t0: not [g for g in s.data["oauth2PermissionGrants"]
                                                     if g["principalId"] == _alice(s)["id"]],
    ActionId.DISABLE_LEGACY_PROTOCOLS: lambda s, t0: _mailbox(s)["cas"]["imapEnabled"] is False
    and _mailbox(s)["cas"]["popEnabled"] is False,
    # Auditing is on by default: the bypass is what was off, and what the action ends.
    ActionId.ENABLE_MAILBOX_AUDIT: lambda s, t0: _mailbox(s)["auditBypassEnabled"] is False,
    ActionId.UNBLOCK_SENDER: lambda s, t0: not [b for b in s.data["blockedSenders"]
                                                if b["SenderAddress"].lower() == "alice@contoso.com"],
}


@pytest.mark.parametrize("action", list(CHECKS), ids=lambda a: a.value)
async def test_action_succeeds_verifies_and_is_skipped_the_second_time(runtime: Any, action: ActionId) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    state = runtime.sandbox.state
    assert not CHECKS[action](state, incident.opened_at), "the fixture should need this action"

    [result] = await run(runtime, incident, alice, [action], override_unblock=action is ActionId.UNBLOCK_SENDER)

    assert (result.status, result.verified) == (ActionStatus.SUCCEEDED, True), result.detail
    assert CHECKS[action](state, incident.opened_at), "the sandbox does not show the change"
    assert result.request_ids, "the service's request ids belong in the result and the audit row"
    landed = len(writes(runtime))

    [again] = await run(runtime, incident, alice, [action], override_unblock=action is ActionId.UNBLOCK_SENDER)

    assert (again.status, again.verified) == (ActionStatus.SKIPPED, True), again.detail
    assert len(writes(runtime)) == landed, "a second run must not write again"


async def test_unblock_signin_reverses_block_signin(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    [blocked] = await run(runtime, incident, alice, [ActionId.BLOCK_SIGNIN])
    [unblocked] = await run(runtime, incident, alice, [ActionId.UNBLOCK_SIGNIN])
    assert blocked.status is unblocked.status is ActionStatus.SUCCEEDED
    assert unblocked.verified and _alice(runtime.sandbox.state)["accountEnabled"] is True


async def test_remove_admin_roles_on_carol(runtime: Any) -> None:
    carol = await user(runtime, "carol@contoso.com")
    incident = await incident_for(runtime, carol)
    assert runtime.sandbox.state.roles_of(carol.id)
    [result] = await run(runtime, incident, carol, [ActionId.REMOVE_ADMIN_ROLES])
    assert (result.status, result.verified) == (ActionStatus.SUCCEEDED, True), result.detail
    assert runtime.sandbox.state.roles_of(carol.id) == []


async def test_dismiss_risk_after_confirming(runtime: Any) -> None:
    alice = await user(runtime)
    incident = await incident_for(runtime, alice)
    results = await run(runtime, incident, alice, [ActionId.DISMISS_RISK, ActionId.CONFIRM_COMPROMISED])
    assert [r.status for r in results] == [ActionStatus.SUCCEEDED, ActionStatus.SUCCEEDED]
    # dismiss_risk waits for confirm_compromised in the same run, so the last word is "dismissed".
    assert runtime.sandbox.state.risky_user(alice.id)["riskState"] == "dismissed"


def test_every_action_sentence_survives_the_store_scrubber() -> None:
    """Sentences bound for audit rows must not look like secrets, or the store rewrites them."""
    from services.actions import ACTIONS, catalog
    from services.store.scrub import scrub_text

    for action in ACTIONS.values():
        spec = catalog.spec(action.id)
        for sentence in (spec.title, spec.description, spec.refusal([p.action for p in spec.prerequisites]),
                         action.nothing_to_do, action.done_sentence):
            assert scrub_text(sentence) == sentence, sentence
