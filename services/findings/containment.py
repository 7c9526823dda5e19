"""Whether an incident is contained, from its findings (pure functions over stored data, no I/O).

A finding that needs attention (medium severity or above: the ones whose actions are recommended) is
addressed when every action it recommends has, as its latest outcome in the incident, a result whose
read-back proved it (succeeded and verified, or skipped because nothing flagged is left). A responder
may instead accept a finding with a reason (services.store.incidents.accept_finding). The incident is
contained when no such finding is left open; otherwise it is "partly contained: N findings open".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.vocabulary import ActionResult, Severity

ADDRESSED_STATUSES = frozenset({"succeeded", "skipped"})
FINAL_STATES = frozenset({"succeeded", "failed", "skipped", "partial", "refused", "expired", "rejected", "cancelled"})


def finding_key(finding: Mapping[str, Any]) -> str:
    """A stable, opaque id for a stored finding (kind and the objects it flagged; its title when it flagged
    none). Cards carry it to name a finding; the server looks it up in the stored investigation."""
    targets = sorted(str(t) for t in finding.get("targets") or ())
    basis = "|".join([str(finding.get("kind", "")), *(targets or [str(finding.get("title", ""))])])
    return "fnd_" + hashlib.sha256(basis.encode()).hexdigest()[:12]


def needs_attention(finding: Mapping[str, Any]) -> bool:
    try:
        return Severity(str(finding.get("severity"))).rank >= Severity.MEDIUM.rank
    except ValueError:
        return True  # a severity this version does not know is not quietly dropped


@dataclass(frozen=True, slots=True)
class OpenFinding:
    key: str
    kind: str
    severity: str
    title: str
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Containment:
    open: tuple[OpenFinding, ...]
    accepted: int = 0
    addressed: int = 0

    @property
    def contained(self) -> bool:
        return not self.open

    @property
    def sentence(self) -> str:
        """"Contained: every finding addressed." / "Partly contained: 2 findings open."."""
        if self.open:
            n = len(self.open)
            return f"Partly contained: {n} finding{'s' if n != 1 else ''} open."
        extra = f" ({self.accepted} accepted by a responder)" if self.accepted else ""
        return f"Contained: every finding addressed{extra}."


def _addressed(result: Mapping[str, Any] | None) -> bool:
    return result is not None and str(result.get("status")) in ADDRESSED_STATUSES and bool(result.get("verified"))


def assess_containment(investigation: Mapping[str, Any] | None, outcomes: Mapping[str, Mapping[str, Any]],
                       accepted: Iterable[str] = ()) -> Containment:
    """`outcomes`: each action's latest final result ({"status", "verified"}) in the incident."""
    accepted_keys = set(accepted)
    open_: list[OpenFinding] = []
    n_accepted = n_addressed = 0
    for f in (investigation or {}).get("findings") or ():
        if not needs_attention(f):
            continue
        key = finding_key(f)
        actions = tuple(str(a) for a in f.get("actions") or ())
        if actions and all(_addressed(outcomes.get(a)) for a in actions):
            n_addressed += 1
        elif key in accepted_keys:
            n_accepted += 1
        else:
            open_.append(OpenFinding(key=key, kind=str(f.get("kind", "")), severity=str(f.get("severity", "")),
                                     title=str(f.get("title", "")), actions=actions))
    return Containment(open=tuple(open_), accepted=n_accepted, addressed=n_addressed)


def latest_outcomes(requests: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Each action's latest final result from stored requests (services.store.records.ActionRequest, read
    by attribute): {"status", "verified"}. An undo is not an outcome of the finding's action."""
    latest: dict[str, tuple[Any, dict[str, Any]]] = {}
    for r in requests:
        state = str(getattr(r, "state", ""))
        if state not in FINAL_STATES or getattr(r, "undo_of", None):
            continue
        at = getattr(r, "finished_at", None) or getattr(r, "requested_at", None)
        result = dict(getattr(r, "result", None) or {})
        outcome = {"status": state, "verified": bool(result.get("verified"))}
        action = str(r.action)
        if action not in latest or (at is not None and (latest[action][0] is None or at >= latest[action][0])):
            latest[action] = (at, outcome)
    return {a: o for a, (_, o) in latest.items()}


def accepted_keys(investigation: Mapping[str, Any] | None) -> tuple[str, ...]:
    return tuple(((investigation or {}).get("accepted") or {}).keys())


def containment_of(investigation: Mapping[str, Any] | None, requests: Iterable[Any]) -> Containment:
    """The incident's containment from its stored investigation and requests."""
    return assess_containment(investigation, latest_outcomes(requests), accepted_keys(investigation))


def findings_left(investigation: Mapping[str, Any] | None, results: Sequence[ActionResult]) -> list[OpenFinding]:
    """The findings a run was asked to address that remain: every finding recommending one of the run's
    actions whose result did not prove it addressed (succeeded and verified, or skipped: nothing flagged
    is left). `contain remediate` exits non-zero while this is not empty."""
    by_action = {r.action.value: r for r in results}
    left: list[OpenFinding] = []
    for f in (investigation or {}).get("findings") or ():
        mine = [by_action[a] for a in f.get("actions") or () if a in by_action]
        if not mine:
            continue
        if all(r.status.value in ADDRESSED_STATUSES and r.verified for r in mine):
            continue
        left.append(OpenFinding(key=finding_key(f), kind=str(f.get("kind", "")), severity=str(f.get("severity", "")),
                                title=str(f.get("title", "")), actions=tuple(str(a) for a in f.get("actions") or ())))
    return left
