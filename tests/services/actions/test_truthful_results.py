"""Results tell the truth: `skipped` only when none of the flagged objects exist any more; an action that
could not remove what its finding flagged is `failed` or `partial` with one sentence; and the identity
actions address exactly what the findings flagged, not what a second rule would pick."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.actions.base import Action, ActionContext, Write
from services.actions.engine import execute_one
from services.actions.identity import RemoveAdminRoles, ResetMfa, RevokeOauthGrants
from services.vocabulary import ActionId, ActionStatus, UserRef

USER = UserRef(id="u-1", user_principal_name="marta@fabrikam.com", display_name="Marta")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Objects(Action):
    """Deletes the flagged objects it can; `stuck` ones survive every delete; `unreachable` ones it has no
    write for."""

    id = ActionId.REVOKE_OAUTH_GRANTS
    title = "Remove objects"
    nothing_to_do = "Skipped: the flagged objects no longer exist."
    done_sentence = "Removed."

    def __init__(self, present: set[str], *, stuck: frozenset[str] = frozenset(),
                 unreachable: frozenset[str] = frozenset()) -> None:
        self.present, self.stuck, self.unreachable = present, stuck, unreachable

    async def snapshot(self, ctx: ActionContext) -> dict[str, Any]:
        return {"objects": sorted(self.present)}

    def remaining(self, ctx: ActionContext, snapshot: dict[str, Any]) -> tuple[str, ...]:
        return tuple(o for o in snapshot["objects"] if o in (ctx.targets(self.id) or ()))

    def plan(self, ctx: ActionContext, snapshot: dict[str, Any]) -> list[Write]:
        writes = []
        for o in self.remaining(ctx, snapshot):
            if o in self.unreachable:
                continue

            async def send(writer: Any, o: str = o) -> str | None:
                if o not in self.stuck:
                    self.present.discard(o)
                return f"rid-{o}"

            writes.append(Write(key=o, summary=f"Removed {o}.", send=send))
        return writes

    def satisfied(self, ctx: ActionContext, after: dict[str, Any], before: dict[str, Any] | None) -> bool:
        return not self.remaining(ctx, after)


def _ctx(flagged: tuple[str, ...]) -> ActionContext:
    return ActionContext(tenant=object(), user=USER, since=T0, flagged={ActionId.REVOKE_OAUTH_GRANTS: flagged})


async def _run(action: Action, ctx: ActionContext) -> Any:
    return await execute_one(action, ctx, await action.snapshot(ctx), verify_wait_s=0.0)


async def test_skipped_only_when_nothing_flagged_is_left() -> None:
    result = await _run(Objects({"other"}), _ctx(("gone",)))
    assert (result.status, result.verified) == (ActionStatus.SKIPPED, True)


async def test_a_flagged_object_the_action_cannot_reach_is_a_failure_not_a_skip() -> None:
    result = await _run(Objects({"a"}, unreachable=frozenset({"a"})), _ctx(("a",)))
    assert (result.status, result.verified) == (ActionStatus.FAILED, False)
    assert "a" in result.detail and result.detail.endswith("still there.")


async def test_some_removed_some_left_is_partial_naming_what_is_left() -> None:
    result = await _run(Objects({"a", "b"}, stuck=frozenset({"b"})), _ctx(("a", "b")))
    assert (result.status, result.verified) == (ActionStatus.PARTIAL, False)
    assert result.detail == "The read-back still shows b."


async def test_everything_removed_is_succeeded_and_verified() -> None:
    result = await _run(Objects({"a", "b", "c"}), _ctx(("a", "b")))
    assert (result.status, result.verified) == (ActionStatus.SUCCEEDED, True)


def _method(mid: str, kind: str = "phone", phone: str | None = "mobile") -> dict[str, Any]:
    return {"id": mid, "type": kind, "displayName": None, "createdDateTime": None, "phoneType": phone, "raw": {}}


def test_reset_mfa_targets_exactly_the_flagged_methods() -> None:
    ctx = ActionContext(tenant=object(), user=USER, since=T0, flagged={ActionId.RESET_MFA: ("m-new",)})
    snap = {"methods": [_method("pw", "password", None), _method("m-old", "microsoftAuthenticator", None),
                        _method("m-new")], "flagged": ["m-new"], "defaultMethod": "push"}
    action = ResetMfa()
    assert [m["id"] for m in action.targets(ctx, snap)] == ["m-new"]
    assert [w.key for w in action.plan(ctx, snap)] == ["method:m-new"]
    gone = {**snap, "methods": snap["methods"][:2]}
    assert action.plan(ctx, gone) == [] and action.remaining(ctx, gone) == ()


def test_admin_roles_and_grants_target_the_flagged_ids_only() -> None:
    ctx = ActionContext(tenant=object(), user=USER, since=T0,
                        flagged={ActionId.REMOVE_ADMIN_ROLES: ("r-1",), ActionId.REVOKE_OAUTH_GRANTS: ("g-1",)})
    roles = {"roles": [{"id": "r-1", "display_name": "User Administrator", "role_template_id": None},
                       {"id": "r-2", "display_name": "Reports Reader", "role_template_id": None}]}
    assert [w.key for w in RemoveAdminRoles().plan(ctx, roles)] == ["role:r-1"]
    grant = {"client_id": "sp", "client_display_name": "App", "client_app_id": "x", "consent_type": "Principal",
             "principal_id": "u-1", "resource_id": "res", "scopes": ["Mail.Send"]}
    grants = {"grants": [{**grant, "id": "g-1"}, {**grant, "id": "g-2"}]}
    assert [w.key for w in RevokeOauthGrants().plan(ctx, grants)] == ["grant:g-1"]
