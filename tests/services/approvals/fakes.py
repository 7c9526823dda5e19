"""A recording responder check: the responders group as a set of AAD object ids."""

from __future__ import annotations

from tests.services.store.helpers import DANA, EVAN


class Responders:
    def __init__(self, *ids: str) -> None:
        self.ids = set(ids or (DANA.id, EVAN.id))
        self.calls: list[str] = []

    async def __call__(self, user_id: str) -> bool:
        self.calls.append(user_id)
        return user_id in self.ids
