"""The fifteen containment actions, one object each, in a registry by action id.

    from services.actions import ACTIONS
    action = ACTIONS[ActionId.BLOCK_SIGNIN]
    before = await action.snapshot(ctx)
    applied = await action.apply(ctx, before)
    ok = await action.verify(ctx, before)

Running a set of them (ordering, audit rows, snapshots in the store) is services.actions.playbook.
"""

from __future__ import annotations

from services.actions.account import BlockSignIn, ResetPassword, RevokeSessions, UnblockSignIn
from services.actions.base import Action, ActionContext, Applied, Refused, Write
from services.actions.identity import ConfirmCompromised, DismissRisk, RemoveAdminRoles, ResetMfa, RevokeOauthGrants
from services.actions.mail import DisableInboxRules, RemoveDelegates, RemoveForwarding
from services.actions.mailbox import UNBLOCK_REFUSAL, DisableLegacyProtocols, EnableMailboxAudit, UnblockSender
from services.vocabulary import ActionId

__all__ = ["ACTIONS", "UNBLOCK_REFUSAL", "UNDO_OF", "Action", "ActionContext", "Applied", "Refused", "Write",
           "get_action"]

ACTIONS: dict[ActionId, Action] = {a.id: a for a in (
    ResetPassword(), RevokeSessions(), BlockSignIn(), UnblockSignIn(), ResetMfa(), DisableInboxRules(),
    RemoveForwarding(), RemoveDelegates(), UnblockSender(), EnableMailboxAudit(), ConfirmCompromised(),
    DismissRisk(), RemoveAdminRoles(), RevokeOauthGrants(), DisableLegacyProtocols(),
)}
assert set(ACTIONS) == set(ActionId), "every action id needs an action object"

# Undo of these is another action in its own right (it goes through approval like any other).
UNDO_OF: dict[ActionId, ActionId] = {ActionId.BLOCK_SIGNIN: ActionId.UNBLOCK_SIGNIN,
                                     ActionId.UNBLOCK_SIGNIN: ActionId.BLOCK_SIGNIN}


def get_action(action_id: ActionId | str) -> Action:
    return ACTIONS[ActionId(action_id)]
