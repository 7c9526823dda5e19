"""Fault injection per route: latency, 429 + Retry-After, 503, timeouts and a requests-per-second
throttle, each with a probability (seeded RNG) and an optional count.

Rules match "METHOD /template" (Graph, e.g. "PATCH /users/{id}"), "EXO Cmdlet-Name" (Exchange) or
shell-style patterns ("*", "PATCH *", "EXO Set-*"); "*" never matches the login endpoint, which a
rule must name with "LOGIN ...". A status fault is decided before the request is handled, so a
429/503 means nothing was written — unless the rule says `after_write`, in which case the write
lands and then the response fails (a retry must read before writing again).

`propagationS` on a write route makes what the write changed visible to reads only that many seconds
later (sandbox.propagation), as Microsoft does for session revocation, grant deletions and risk changes.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import Any

_KEYS = {"route": "route", "method": "method", "latencyMs": "latency_ms", "latency_ms": "latency_ms",
         "status": "status", "retryAfter": "retry_after", "retry_after": "retry_after",
         "probability": "probability", "rps": "rps", "burst": "burst", "timeout": "timeout",
         "holdS": "hold_s", "hold_s": "hold_s", "afterWrite": "after_write", "after_write": "after_write",
         "times": "times", "propagationS": "propagation_s", "propagation_s": "propagation_s"}


@dataclass
class FaultRule:
    route: str = "*"
    latency_ms: float = 0.0
    status: int | None = None  # 429 or 5xx
    retry_after: float | None = None  # seconds; default 1 for 429
    probability: float = 1.0
    rps: float | None = None  # throttle: above this rate answer 429 + Retry-After
    burst: float | None = None  # token bucket size (default: rps)
    timeout: bool = False  # hold the request hold_s seconds, then 504
    hold_s: float = 60.0
    after_write: bool = False
    times: int | None = None  # fire at most this many times
    propagation_s: float = 0.0  # a write on this route shows in reads only this many seconds later
    fired: int = 0
    _tokens: float = field(default=-1.0, repr=False)
    _stamp: float = field(default=0.0, repr=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FaultRule:
        unknown = [k for k in raw if k not in _KEYS]
        if unknown:
            raise ValueError(f"Unknown fault rule field {unknown[0]!r}.")
        kwargs = {_KEYS[k]: v for k, v in raw.items()}
        method = kwargs.pop("method", None)
        if method and kwargs.get("route", "*") != "*":
            kwargs["route"] = f"{method.upper()} {kwargs['route']}"
        elif method:
            kwargs["route"] = f"{method.upper()} *"
        rule = cls(**kwargs)
        if rule.status is not None and not (rule.status == 429 or 500 <= rule.status <= 599):
            raise ValueError("A fault status must be 429 or 5xx.")
        if not 0.0 <= rule.probability <= 1.0:
            raise ValueError("A fault probability must be between 0 and 1.")
        if rule.propagation_s < 0:
            raise ValueError("A propagation delay cannot be negative.")
        if rule.after_write and rule.status is None and not rule.timeout:
            raise ValueError("after_write needs a status or timeout.")
        return rule

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def matches(self, route: str) -> bool:
        if route.startswith("LOGIN ") and not self.route.startswith("LOGIN "):
            return False
        return fnmatchcase(route, self.route)

    def take_token(self, now: float) -> float:
        """Token bucket: 0 if the request may pass, else the seconds until a token is free."""
        assert self.rps is not None
        size = self.burst if self.burst is not None else max(self.rps, 1.0)
        if self._tokens < 0:
            self._tokens, self._stamp = size, now
        self._tokens = min(size, self._tokens + (now - self._stamp) * self.rps)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rps


@dataclass(frozen=True)
class Decision:
    """What to do with one request: extra latency, and a fault before or after the handler."""

    latency_s: float = 0.0
    status: int | None = None
    retry_after: float | None = None
    timeout: bool = False
    hold_s: float = 0.0
    after_write: bool = False
    propagation_s: float = 0.0


class FaultInjector:
    def __init__(self, config: dict[str, Any] | None = None, *, latency_ms: float = 0.0) -> None:
        self.base_latency_ms = latency_ms
        self.rules: list[FaultRule] = []
        self.rng = random.Random()
        if config:
            self.configure(config)

    def configure(self, config: dict[str, Any], *, replace: bool = False) -> None:
        """Config: {"rules": [...], "seed": n, "latencyMs": base}; a bare list is a list of rules."""
        if isinstance(config, list):
            config = {"rules": config}
        rules = [FaultRule.from_json(r) for r in config.get("rules", [])]
        if replace:
            self.rules = []
        self.rules.extend(rules)
        if "seed" in config:
            self.rng = random.Random(config["seed"])
        for key in ("latencyMs", "latency_ms"):
            if key in config:
                self.base_latency_ms = float(config[key])

    def add(self, **kwargs: Any) -> FaultRule:
        rule = FaultRule(**kwargs)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules = []

    def to_json(self) -> dict[str, Any]:
        return {"latencyMs": self.base_latency_ms, "rules": [r.to_json() for r in self.rules]}

    def decide(self, route: str) -> Decision:
        latency = self.base_latency_ms / 1000.0 if not route.startswith("LOGIN ") else 0.0
        now = time.monotonic()
        lag = max((r.propagation_s for r in self.rules if r.propagation_s and r.matches(route)), default=0.0)
        for rule in self.rules:
            if not rule.matches(route):
                continue
            latency += rule.latency_ms / 1000.0
            if rule.times is not None and rule.fired >= rule.times:
                continue
            if rule.rps is not None:
                wait = rule.take_token(now)
                if wait > 0:
                    rule.fired += 1
                    return Decision(latency_s=latency, status=429, retry_after=max(1.0, math.ceil(wait)),
                                    propagation_s=lag)
                continue
            if rule.status is None and not rule.timeout:
                continue
            if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                continue
            rule.fired += 1
            retry = rule.retry_after if rule.retry_after is not None else (1.0 if rule.status == 429 else None)
            return Decision(latency_s=latency, status=rule.status, retry_after=retry, timeout=rule.timeout,
                            hold_s=rule.hold_s, after_write=rule.after_write, propagation_s=lag)
        return Decision(latency_s=latency, propagation_s=lag)
