"""The fifteen containment actions, one object each, in a registry by action id.

    from services.actions import ACTIONS
    action = ACTIONS[ActionId.BLOCK_SIGNIN]
    before = await action.snapshot(ctx)
    applied = await action.apply(ctx, before)
    ok = await action.verify(ctx, before)

What each is called, its impact, undo and prerequisites: services.actions.catalog. Running claimed
requests (ordering, audit rows, snapshots in the store) is services.actions.engine.
"""

from __future__ import annotations

from services.actions.account import BlockSignIn, ResetPassword, RevokeSessions, UnblockSignIn
from services.actions.base import Action, ActionContext, Applied, Refused, Write
from services.actions.identity import ConfirmCompromised, DismissRisk, RemoveAdminRoles, ResetMfa, RevokeOauthGrants
from services.actions.mail import DisableInboxRules, RemoveDelegates, RemoveForwarding
from services.actions.mailbox import DisableLegacyProtocols, EnableMailboxAudit, UnblockSender
from services.vocabulary import ActionId

__all__ = ["ACTIONS", "Action", "ActionContext", "Applied", "Refused", "Write",
           "get_action"]

ACTIONS: dict[ActionId, Action] = {a.id: a for a in (
    ResetPassword(), RevokeSessions(), BlockSignIn(), UnblockSignIn(), ResetMfa(), DisableInboxRules(),
    RemoveForwarding(), RemoveDelegates(), UnblockSender(), EnableMailboxAudit(), ConfirmCompromised(),
    DismissRisk(), RemoveAdminRoles(), RevokeOauthGrants(), DisableLegacyProtocols(),
)}
assert set(ACTIONS) == set(ActionId), "every action id needs an action object"


def get_action(action_id: ActionId | str) -> Action:
    return ACTIONS[ActionId(action_id)]
