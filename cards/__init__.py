"""Adaptive Card builders (schema 1.5): pure functions, data in, card dict out.

Every builder takes a ``CardContext`` first and returns a JSON-ready dict. Action data carries
opaque ids only (see ``cards.verbs``); the server loads everything else.
"""

from cards.approval import awaiting_approval_card, confirm_card, expired_card, rejected_card
from cards.context import CardContext
from cards.incident import existing_incident_card, incident_card
from cards.messages import approval_reminder_text, choice_card, help_card, notice_card
from cards.progress import done_card, running_card
from cards.summary import score_card, summary_card

__all__ = [
    "CardContext",
    "approval_reminder_text",
    "awaiting_approval_card",
    "choice_card",
    "confirm_card",
    "done_card",
    "existing_incident_card",
    "expired_card",
    "help_card",
    "incident_card",
    "notice_card",
    "rejected_card",
    "running_card",
    "score_card",
    "summary_card",
]
