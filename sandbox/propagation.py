"""Changes Microsoft applies with a delay: a write is accepted at once, but reads show the old state for a
while (session revocation takes minutes to apply, deletions of permission grants replicate, a risk change
is processed in the background with `isProcessing` true meanwhile).

Opt-in per write route with a fault rule's `propagationS` (sandbox.faults): after such a write lands, the
fields it changed keep their old values in every read for that many seconds; an object it created stays
hidden and one it deleted stays listed. Other writes are not delayed, and writes always act on the real
state. A risky user whose change is still propagating reads with `isProcessing: true`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Lag:
    until: float
    key: str  # top-level collection in the state ("users", "oauth2PermissionGrants", "riskyUsers", ...)
    item_id: str
    before: dict[str, Any] | None  # None: the write created the item
    fields: tuple[str, ...]  # the fields the write changed (all when created or deleted)


def _items(value: Any) -> dict[str, dict[str, Any]] | None:
    if not isinstance(value, list) or not all(isinstance(i, dict) and "id" in i for i in value):
        return None
    return {str(i["id"]): i for i in value}


class Propagation:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lags: list[_Lag] = []

    def clear(self) -> None:
        self.lags = []

    def active(self) -> bool:
        now = self.clock()
        self.lags = [lag for lag in self.lags if lag.until > now]
        return bool(self.lags)

    def record(self, before: dict[str, Any], after: dict[str, Any], delay_s: float) -> None:
        """Remember what one write changed (state before and after it) for `delay_s` seconds."""
        until = self.clock() + delay_s
        for key, old in before.items():
            old_items, new_items = _items(old), _items(after.get(key))
            if old_items is None or new_items is None:
                continue
            for item_id, was in old_items.items():
                now = new_items.get(item_id)
                if now is None:
                    self.lags.append(_Lag(until, key, item_id, was, tuple(was)))
                    continue
                changed = tuple(f for f in set(was) | set(now) if was.get(f) != now.get(f))
                if changed:
                    self.lags.append(_Lag(until, key, item_id, was, changed))
            for item_id in new_items.keys() - old_items.keys():
                self.lags.append(_Lag(until, key, item_id, None, ()))

    def view(self, data: dict[str, Any]) -> dict[str, Any]:
        """What a read sees: `data` with the changes still propagating undone (copies; `data` is untouched)."""
        if not self.active():
            return data
        out = dict(data)
        for key in {lag.key for lag in self.lags}:
            items = [dict(i) for i in data.get(key) or []]
            by_id = {str(i["id"]): i for i in items}
            for lag in sorted((lag for lag in self.lags if lag.key == key), key=lambda lag: lag.until, reverse=True):
                current = by_id.get(lag.item_id)
                if lag.before is None:
                    if current is not None:
                        items.remove(current)
                        del by_id[lag.item_id]
                    continue
                if current is None:  # deleted: still listed until the deletion replicates
                    restored = dict(lag.before)
                    items.append(restored)
                    by_id[lag.item_id] = restored
                    continue
                for f in lag.fields:
                    if f in lag.before:
                        current[f] = lag.before[f]
                    else:
                        current.pop(f, None)
                if "isProcessing" in current:
                    current["isProcessing"] = True
            out[key] = items
        return out
