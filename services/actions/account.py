"""Account actions over Graph: reset the password, revoke sessions, block and unblock sign-in."""

from __future__ import annotations

from typing import Any

from services.actions import passwords, reads
from services.actions.base import Action, ActionContext, Applied, Write, at_or_after, iso, parse_iso
from services.vocabulary import ActionId


def _account_snapshot(state: reads.AccountState) -> dict[str, Any]:
    return {"accountEnabled": state.enabled, "lastPasswordChangeDateTime": iso(state.password_changed),
            "signInSessionsValidFromDateTime": iso(state.sessions_valid_from)}


# What a first attempt starts from when nothing of ours can have landed yet (see Action.writes_unread):
# the write is wanted, and its verification compares against the incident's start, not this.
_UNREAD = {"accountEnabled": None, "lastPasswordChangeDateTime": None, "signInSessionsValidFromDateTime": None,
           "read": False}


class ResetPassword(Action):
    id = ActionId.RESET_PASSWORD
    nothing_to_do = "Skipped: a password reset already happened during this incident."
    done_sentence = "Password reset; the user must change it at next sign-in."
    writes_unread = True
    unread_snapshot = _UNREAD

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        return _account_snapshot(await reads.account(ctx))

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        return self._plan(ctx, snapshot, None)

    def _plan(self, ctx: ActionContext, snapshot: dict[str, Any], password: str | None) -> list[Write]:
        if at_or_after(parse_iso(snapshot["lastPasswordChangeDateTime"]), ctx.since):
            return []
        user_id = ctx.user.id

        async def send(writer: Any) -> str | None:
            assert password is not None, "reset_password writes only through apply()"
            return await writer.set_password(user_id=user_id, password=password, force_change=True)  # type: ignore[no-any-return]

        return [Write(key="password", summary="Reset the password (change required at next sign-in).", send=send)]

    def satisfied(self, ctx: ActionContext, after: dict[str, Any], before: dict[str, Any] | None) -> bool:
        # Moved forward past the incident's start (a value from before the incident never satisfies).
        return at_or_after(parse_iso(after["lastPasswordChangeDateTime"]), ctx.since)

    async def apply(self, ctx: ActionContext, snapshot: dict[str, Any]) -> Applied:
        # Made once per apply: a retry after a lost answer re-reads, and re-sends this same password only
        # if it did not land. It lives in this frame and in the result, nowhere else.
        password = passwords.generate()
        applied = await self.execute(ctx, snapshot, lambda snap: self._plan(ctx, snap, password))
        # No error and a write was needed: either it landed, or a re-read showed it had landed after a
        # lost answer. Either way the password now in force is this one.
        if applied.error is None and self.plan(ctx, snapshot):
            applied.secret = password
        return applied


class RevokeSessions(Action):
    id = ActionId.REVOKE_SESSIONS
    nothing_to_do = "Skipped: sessions were already revoked during this incident."
    done_sentence = "Every session and refresh token issued before now is invalid."
    writes_unread = True
    unread_snapshot = _UNREAD

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        return _account_snapshot(await reads.account(ctx))

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        if at_or_after(parse_iso(snapshot["signInSessionsValidFromDateTime"]), ctx.since):
            return []
        user_id = ctx.user.id

        async def send(writer: Any) -> str | None:
            return await writer.revoke_sessions(user_id=user_id)  # type: ignore[no-any-return]

        return [Write(key="sessions", summary="Revoked all sign-in sessions.", send=send)]


class _SignIn(Action):
    enable: bool = True

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        return _account_snapshot(await reads.account(ctx))

    def _set(self, ctx: ActionContext, enabled: bool) -> Write:
        user_id = ctx.user.id

        async def send(writer: Any) -> str | None:
            return await writer.set_account_enabled(user_id=user_id, enabled=enabled)  # type: ignore[no-any-return]

        verb = "Unblocked" if enabled else "Blocked"
        return Write(key="accountEnabled", summary=f"{verb} sign-in (accountEnabled={str(enabled).lower()}).",
                     send=send)

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        return [] if snapshot["accountEnabled"] is self.enable else [self._set(ctx, self.enable)]

    def undo_plan(self, ctx: ActionContext, before: dict[str, Any], now: dict[str, Any]) -> list[Write]:
        wanted = bool(before["accountEnabled"])
        return [] if now["accountEnabled"] is wanted else [self._set(ctx, wanted)]


class BlockSignIn(_SignIn):
    id = ActionId.BLOCK_SIGNIN
    enable = False
    nothing_to_do = "Skipped: sign-in was already blocked."
    done_sentence = "Sign-in blocked."


class UnblockSignIn(_SignIn):
    id = ActionId.UNBLOCK_SIGNIN
    enable = True
    nothing_to_do = "Skipped: sign-in was not blocked."
    done_sentence = "Sign-in allowed again."
