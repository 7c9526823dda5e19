"""What each card says and offers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import cards
from cards import verbs
from cards.common import execute
from cards.context import CardContext
from cards.views import ActionLine, LineState, SecureScoreView
from services.vocabulary import ActionId, Impact
from tests.cards import samples
from tests.cards.samples import NOW
from tests.cards.walk import executes, nodes, of_type, texts

A = ActionId
CTX = CardContext(sandbox=False, now=NOW)


def toggles(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in of_type(card, "Input.Toggle")}


def buttons_by_verb(card: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for action in executes(card):
        out.setdefault(action["verb"], []).append(action)
    return out


def test_incident_preselects_exactly_the_recommended_actions() -> None:
    inv = samples.alice_investigation()
    card = cards.incident_card(CTX, incident_id="inc-1", investigation=inv)
    found = toggles(card)
    assert set(found) == {f"act_{a.value}" for a in A if a is not A.UNBLOCK_SIGNIN}
    on = {k.removeprefix("act_") for k, t in found.items() if t["value"] == "true"}
    assert on == {a.value for a in inv.recommended_actions}
    assert all(t["valueOn"] == "true" and t["valueOff"] == "false" for t in found.values())
    assert found["act_reset_password"]["title"] == "Reset password (needs second responder)"
    assert found["act_revoke_sessions"]["title"] == "Revoke sessions"
    hidden = next(n for n in nodes(card) if n.get("id") == "more-actions")
    assert hidden["isVisible"] is False
    assert {t["id"] for t in hidden["items"]} == {f"act_{a.value}" for a in (A.BLOCK_SIGNIN, A.DISMISS_RISK,
                                                                            A.REMOVE_ADMIN_ROLES)}
    toggler = of_type(card, "Action.ToggleVisibility")[0]
    assert toggler["targetElements"] == ["more-actions"]
    verbs_seen = buttons_by_verb(card)
    assert verbs_seen[verbs.CONFIRM][0]["data"] == {"incident": "inc-1"}
    assert verbs_seen[verbs.REFRESH][0]["data"] == {"incident": "inc-1"}


def test_incident_ranks_findings_and_caps_evidence() -> None:
    inv = samples.alice_investigation()
    card = cards.incident_card(CTX, incident_id="inc-1", investigation=inv)
    words = texts(card)
    markers = [w for w in words if w in {"HIGH", "MEDIUM", "LOW", "INFO"}]
    assert markers == sorted(markers, key=lambda m: ["HIGH", "MEDIUM", "LOW", "INFO"].index(m))
    assert len(markers) == len(inv.findings)
    # The sign-in finding has four evidence lines: three shown and "+1 more".
    assert "Sign-in rated high risk from 198.51.100.23 at 2025-03-04 10:13 UTC." in words
    assert "Sign-in rated medium risk from 198.51.100.24 at 2025-03-04 10:20 UTC." not in words
    assert "+1 more" in words
    assert "Risk: high (atRisk)" in words
    assert "Investigated 14:01 UTC" in words


def test_clean_account_says_so_and_admin_is_flagged() -> None:
    bob = cards.incident_card(CTX, incident_id="i", investigation=samples.bob_investigation())
    assert "Nothing suspicious found." in texts(bob)
    assert "No action recommended." in texts(bob)
    assert all(t["value"] == "false" for t in toggles(bob).values())
    carol = cards.incident_card(CTX, incident_id="i", investigation=samples.carol_investigation())
    words = texts(carol)
    assert "ADMIN — every action needs a second responder" in words
    assert "Could not check" in words
    # On an admin target every action needs a second responder.
    assert all(t["title"].endswith("(needs second responder)") for t in toggles(carol).values())


def test_alert_history_is_listed_newest_first() -> None:
    card = cards.incident_card(CTX, incident_id="i", investigation=samples.alice_investigation(),
                               alerts=samples.alerts())
    facts = [f for fs in of_type(card, "FactSet") for f in fs["facts"]]
    assert [f["title"] for f in facts] == ["14:02 UTC", "13:57 UTC", "13:52 UTC"]
    assert facts[1]["value"].startswith("Defender · high · Suspicious inbox forwarding rule")


def test_oversized_incident_collapses_lower_severity_findings() -> None:
    card = cards.incident_card(CTX, incident_id="i", investigation=samples.hostile_investigation(),
                               alerts=samples.alerts(samples.HUGE))
    words = texts(card)
    collapsed = [w for w in words if w.endswith("more lower-severity findings not shown (card size limit).")]
    assert collapsed
    shown = sum(1 for w in words if w in {"HIGH", "MEDIUM", "LOW", "INFO"})
    assert shown + int(collapsed[0].split()[0].lstrip("+")) == 40
    # The worst findings are the ones kept.
    assert next(w for w in words if w in {"HIGH", "MEDIUM", "LOW", "INFO"}) == "HIGH"
    assert "+4 earlier alerts" in words
    # The action toggles survive the squeeze.
    assert "act_disable_inbox_rules" in toggles(card)


def test_closed_incident_offers_no_actions() -> None:
    card = cards.incident_card(CTX, incident_id="i", investigation=samples.alice_investigation(), closed=True)
    assert executes(card) == [] and toggles(card) == {}


def test_confirm_requires_a_reason_and_back_skips_validation() -> None:
    card = cards.confirm_card(CTX, incident_id="inc-1", nonce="n-9", target=samples.ALICE,
                              actions=(A.RESET_PASSWORD, A.REVOKE_SESSIONS))
    reason = of_type(card, "Input.Text")[0]
    assert reason["id"] == "reason" and reason["isRequired"] is True
    assert reason["maxLength"] == 500 and reason["errorMessage"] and reason["label"]
    by_verb = buttons_by_verb(card)
    assert by_verb[verbs.RUN][0]["data"] == {"incident": "inc-1", "nonce": "n-9"}
    assert "associatedInputs" not in by_verb[verbs.RUN][0]
    assert by_verb[verbs.REFRESH][0]["associatedInputs"] == "none"
    words = texts(card)
    assert "HIGH" in words and "STANDARD" in words
    assert "Sets a random temporary password that must be changed at next sign-in." in words
    assert any("1 high-impact action(s) will wait for a second responder" in w for w in words)


def test_awaiting_approval_shows_expiry_and_the_self_approval_rule() -> None:
    card = cards.awaiting_approval_card(
        CTX, batch_id="b-7", incident_id="inc-1", target=samples.ALICE, requested_by=samples.RESPONDER,
        requested_at=NOW, reason="User confirmed", actions=(A.RESET_PASSWORD,), expires_at=NOW + timedelta(minutes=30))
    facts = {f["title"]: f["value"] for f in of_type(card, "FactSet")[0]["facts"]}
    assert facts == {"Requested by": "Megan Bowen", "Requested": "14:02 UTC", "Reason": "User confirmed",
                     "Expires": "expires 14:32 UTC (in 30 min)"}
    assert "The requester cannot approve their own request; a different responder must." in texts(card)
    by_verb = buttons_by_verb(card)
    assert by_verb[verbs.APPROVE][0]["data"] == by_verb[verbs.REJECT][0]["data"] == {"batch": "b-7"}
    assert "refresh" not in card


def test_refresh_block_targets_the_given_users() -> None:
    ctx = CardContext(sandbox=False, now=NOW, refresh_user_ids=("aad-resp-1", "aad-resp-2"))
    card = cards.awaiting_approval_card(
        ctx, batch_id="b", incident_id="inc-1", target=samples.ALICE, requested_by=samples.RESPONDER,
        requested_at=NOW, reason="r", actions=(A.BLOCK_SIGNIN,), expires_at=NOW)
    assert card["refresh"]["userIds"] == ["aad-resp-1", "aad-resp-2"]
    assert card["refresh"]["action"]["verb"] == verbs.REFRESH
    assert card["refresh"]["action"]["data"] == {"incident": "inc-1"}


def test_running_card_shows_each_state() -> None:
    card = cards.running_card(CTX, incident_id="i", target=samples.ALICE, lines=samples.lines(),
                              requested_by=samples.RESPONDER, started_at=NOW)
    words = texts(card)
    for expected in ["✓ succeeded · verified", "✓ succeeded · written, not yet visible", "✗ failed", "skipped",
                     "refused", "running…", "queued", "awaiting approval", "Exchange Online refused the change: busy.",
                     "Started by Megan Bowen · 14:02 UTC"]:
        assert expected in words
    assert any(w.startswith("3 succeeded (2 verified), 1 partial, 1 failed") for w in words)
    assert "◐ partly done" in words


def test_done_card_offers_undo_only_for_undoable_successes() -> None:
    card = cards.done_card(CTX, incident_id="i", batch_id="b-1", target=samples.ALICE, lines=samples.lines(),
                           finished_at=NOW)
    by_verb = buttons_by_verb(card)
    assert [(b["title"], b["data"]) for b in by_verb[verbs.UNDO]] == [
        ("Undo: Block sign-in", {"request": "req-2"}),
        ("Undo: Disable suspicious inbox rules", {"request": "req-3"}),
    ]  # revoke_sessions cannot be undone; remove_forwarding failed
    assert by_verb[verbs.OVERRIDE_UNBLOCK][0]["data"] == {"batch": "b-1"}
    assert "requested by Megan Bowen · approved by Nestor Wilke · 14:02 UTC" in texts(card)
    close = next(a for a in of_type(card, "Action.ShowCard") if a["title"] == "Close incident")
    inner = close["card"]
    assert of_type(inner, "Input.Text")[0]["isRequired"] is True
    assert executes(inner)[0]["verb"] == verbs.CLOSE


def test_done_card_without_refusal_has_no_override() -> None:
    ok = (ActionLine(A.REVOKE_SESSIONS, LineState.SUCCEEDED, verified=True, request_id="r"),)
    card = cards.done_card(CTX, incident_id="i", batch_id="b", target=samples.ALICE, lines=ok)
    assert verbs.OVERRIDE_UNBLOCK not in buttons_by_verb(card)
    assert verbs.UNDO not in buttons_by_verb(card)


def test_expired_card_says_nothing_ran_and_offers_a_restart() -> None:
    card = cards.expired_card(CTX, incident_id="inc-3", target=samples.ALICE, expired_at=NOW,
                              actions=(A.RESET_PASSWORD,))
    assert "The request expired at 14:02 UTC; nothing was executed." in texts(card)
    assert buttons_by_verb(card)[verbs.REFRESH][0]["data"] == {"incident": "inc-3"}


def test_summary_has_actors_audit_state_events_and_score() -> None:
    card = cards.summary_card(CTX, target=samples.ALICE, data=samples.summary())
    words = texts(card)
    table = of_type(card, "Table")[0]
    header = [c["items"][0]["text"] for c in table["rows"][0]["cells"]]
    assert header == ["Action", "Outcome", "Requested by", "Approved by", "When"]
    block = [c["items"][0]["text"] for c in table["rows"][2]["cells"]]
    assert block == ["Block sign-in", "succeeded, verified", "Megan Bowen", "Nestor Wilke", "14:02 UTC"]
    facts = {f["title"]: f["value"] for fs in of_type(card, "FactSet") for f in fs["facts"]}
    assert facts["Organisation"] == "on" and facts["Mailbox"] == "off"
    assert facts["Audit bypass"] == "unknown (read failed)"
    assert facts["MailItemsAccessed"] == "412"
    assert "41.5 / 78.0 (53 %)" in words
    assert "Change: +2.0 over 7 days · -3.5 over 30 days" in words
    assert "Require MFA for all users" in words


@pytest.mark.parametrize(("current", "maximum", "weights"), [(41.5, 78.0, [53, 47]), (0, 80, [100]),
                                                             (80, 80, [100]), (5, 0, [100])])
def test_score_bar_weights_fill_the_width(current: float, maximum: float, weights: list[int]) -> None:
    card = cards.score_card(CTX, score=SecureScoreView(current=current, max=maximum))
    bar = next(n for n in of_type(card, "ColumnSet") if all(isinstance(c.get("width"), float | int)
                                                             for c in n["columns"]))
    assert [c["width"] for c in bar["columns"]] == weights
    assert {c["style"] for c in bar["columns"]} <= {"good", "emphasis"}


def test_choice_card_has_one_button_per_candidate() -> None:
    card = cards.choice_card(CTX, query="al", choice_id="c-5", candidates=[samples.ALICE, samples.BOB])
    picks = buttons_by_verb(card)[verbs.CHOOSE]
    assert [p["title"] for p in picks] == ["Alice Wilber (alice@contoso.com)", "Bob Kelly (bob@contoso.com)"]
    assert [p["data"] for p in picks] == [{"choice": "c-5", "user": samples.ALICE.id},
                                          {"choice": "c-5", "user": samples.BOB.id}]
    assert "Several accounts match 'al'" in texts(card)


def test_notice_carries_the_correlation_id() -> None:
    ctx = CardContext(sandbox=True, now=NOW, correlation_id="7f3a9c2e")
    card = cards.notice_card(ctx, text="Only members of Contain Responders can act on incidents.")
    assert texts(card)[-2:] == ["Only members of Contain Responders can act on incidents.", "ref 7f3a9c2e"]


def test_existing_incident_points_to_the_thread() -> None:
    card = cards.existing_incident_card(CTX, incident_id="inc-1", target=samples.ALICE)
    assert "Alice Wilber already has an open incident — see its thread." in texts(card)
    assert buttons_by_verb(card)[verbs.NEW_INCIDENT][0]["data"] == {"incident": "inc-1"}


def test_help_lists_every_command() -> None:
    titles = [f["title"] for fs in of_type(cards.help_card(CTX), "FactSet") for f in fs["facts"]]
    assert titles == ["/compromised <who>", "@Contain compromised <who>", "compromised <who>",
                      "/compromised status <who>", "/compromised score", "/compromised set-channel", "help"]


def test_reminder_text() -> None:
    text = cards.approval_reminder_text(target=samples.ALICE, actions=(A.RESET_PASSWORD, A.BLOCK_SIGNIN),
                                        expires_at=NOW + timedelta(minutes=15), now=NOW)
    assert text.startswith(
        "Approval for Reset password, Block sign-in on Alice Wilber expires in 15 minutes (14:17 UTC)."
    )


def test_execute_refuses_data_beyond_the_verbs_ids() -> None:
    with pytest.raises(ValueError, match="contain.approve"):
        execute("Approve", verbs.APPROVE, {"batch": "b", "user": "alice@contoso.com"})
    with pytest.raises(ValueError):
        execute("Run", verbs.RUN, {"incident": "i"})


def test_line_impact_marks_high_actions() -> None:
    line = ActionLine(A.RESET_PASSWORD, LineState.QUEUED, Impact.HIGH)
    card = cards.running_card(CTX, incident_id="i", target=samples.ALICE, lines=(line,))
    assert "Reset password (high impact)" in texts(card)
