"""The Action.Execute verbs Contain's cards send. Dialogs route on these exact strings.

Card data carries opaque ids only (DESIGN.md): the server loads the target, the actions and the
actors from the store. ``DATA_KEYS`` lists every key a card may put in an action's data.
"""

from __future__ import annotations

CONFIRM = "contain.confirm"  # incident card → confirm step; data {incident}; inputs act_<action_id>
RUN = "contain.run"  # confirm card → run; data {incident, nonce}; input reason
APPROVE = "contain.approve"  # data {batch}
REJECT = "contain.reject"  # data {batch}
REFRESH = "contain.refresh"  # data {incident}
CHOOSE = "contain.choose"  # choice card; data {choice, user}
NEW_INCIDENT = "contain.new_incident"  # existing-incident pointer; data {incident}
CLOSE = "contain.close"  # data {incident}; input reason
UNDO = "contain.undo"  # data {request}
OVERRIDE_UNBLOCK = "contain.override_unblock"  # data {batch}
ACCEPT = "contain.accept"  # done card → accept an open finding; data {incident}; inputs finding, accept_reason

ALL_VERBS: frozenset[str] = frozenset(
    {CONFIRM, RUN, APPROVE, REJECT, REFRESH, CHOOSE, NEW_INCIDENT, CLOSE, UNDO, OVERRIDE_UNBLOCK, ACCEPT}
)

# The data keys each verb carries; anything else in a card's data is a defect.
VERB_DATA_KEYS: dict[str, frozenset[str]] = {
    CONFIRM: frozenset({"incident"}),
    RUN: frozenset({"incident", "nonce"}),
    APPROVE: frozenset({"batch"}),
    REJECT: frozenset({"batch"}),
    REFRESH: frozenset({"incident"}),
    CHOOSE: frozenset({"choice", "user"}),
    NEW_INCIDENT: frozenset({"incident"}),
    CLOSE: frozenset({"incident"}),
    UNDO: frozenset({"request"}),
    OVERRIDE_UNBLOCK: frozenset({"batch"}),
    ACCEPT: frozenset({"incident"}),
}

DATA_KEYS: frozenset[str] = frozenset().union(*VERB_DATA_KEYS.values())

# Input ids the cards define: act_<action_id> toggles and the free-text reason.
TOGGLE_PREFIX = "act_"
REASON_INPUT = "reason"
ACCEPT_REASON_INPUT = "accept_reason"  # the accept form sits on the same card as the close form
FINDING_INPUT = "finding"  # the opaque key of the finding a responder accepts (services.findings.containment)
REASON_MAX_LENGTH = 500
