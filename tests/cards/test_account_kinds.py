"""What the account's kind changes is on the card before anyone clicks Run (issue 11), and so is which
kinds of sign-ins the investigation read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cards import confirm_card, incident_card
from cards.context import CardContext
from dialogs.flows.render import investigation_of
from services.findings.account import SYNCED_BLOCK, SYNCED_PASSWORD
from services.findings.investigation import NO_MAILBOX
from services.store.records import Incident, IncidentSource, IncidentStatus
from services.vocabulary import ActionId, Investigation, UserRef

NOW = datetime(2025, 3, 4, 14, 2, tzinfo=UTC)
CTX = CardContext(sandbox=True, now=NOW)
LENA = UserRef(id="1e7a3c5b", user_principal_name="lena@fabrikam.com", display_name="Lena Fischer")
SIGN_INS = "Sign-ins read: interactive and non-interactive."
INV = Investigation(user=LENA, findings=(), recommended_actions=(ActionId.RESET_PASSWORD, ActionId.REVOKE_SESSIONS),
                    investigated_at=NOW, notes=(SIGN_INS, NO_MAILBOX),
                    cautions={ActionId.BLOCK_SIGNIN.value: SYNCED_BLOCK,
                              ActionId.RESET_PASSWORD.value: SYNCED_PASSWORD})


def _text(card: dict[str, object]) -> str:
    return json.dumps(card)


def test_the_incident_card_shows_the_sync_cautions_and_what_was_read() -> None:
    text = _text(incident_card(CTX, incident_id="inc_1", investigation=INV))
    assert SYNCED_BLOCK in text and SYNCED_PASSWORD in text
    assert SIGN_INS in text and NO_MAILBOX in text


def test_the_confirm_card_shows_the_caution_of_each_chosen_action_only() -> None:
    card = confirm_card(CTX, incident_id="inc_1", nonce="chc_1", target=LENA, actions=[ActionId.BLOCK_SIGNIN],
                        cautions=INV.cautions)
    text = _text(card)
    assert SYNCED_BLOCK in text and SYNCED_PASSWORD not in text


def test_cautions_and_notes_survive_the_store() -> None:
    incident = Incident(id="inc_1", target_user_id=LENA.id, target_upn=LENA.user_principal_name,
                        target_display_name=LENA.display_name, target_is_admin=False, status=IncidentStatus.OPEN,
                        source=IncidentSource.COMMAND, opened_by_id="x", opened_by_name="x", opened_at=NOW,
                        updated_at=NOW, contained_at=None, closed_at=None, closed_by_id=None, closed_by_name=None,
                        close_reason=None, investigation=json.loads(json.dumps(INV.to_json())),
                        conversation_ref=None, conversation_id=None, card_activity_id=None, cutoff=None,
                        correlation_id=None)
    back = investigation_of(incident)
    assert back.cautions == INV.cautions and back.notes == INV.notes
