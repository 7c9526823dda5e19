"""Secure Score for the summary: pure functions over what Graph returns (services.tenant.models).

Graph gives a daily history (`secureScores`, newest first), each with the tenant's current and
maximum score, the peer averages (`averageComparativeScores`) and the score of every control;
`secureScoreControlProfiles` gives each control's title and maximum. The points still available
for a control are its profile's maxScore minus its score today.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.tenant.models import ControlProfile, SecureScore

# Controls that matter for account compromise, recognised by words in their id or title.
COMPROMISE_TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mfa", ("mfa", "multifactor", "multi-factor")),
    ("legacy_auth", ("legacy",)),
    ("user_risk", ("userrisk", "user risk")),
    ("signin_risk", ("signinrisk", "sign-in risk", "signin risk")),
    ("mailbox_audit", ("mailboxaudit", "mailbox audit")),
)
# A history entry counts as "N days ago" when it is within this much of it (scores are daily).
TOLERANCE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ScoreControl:
    id: str
    title: str
    topic: str  # one of COMPROMISE_TOPICS
    score: float
    max_score: float
    points_available: float
    status: str = ""
    action_url: str | None = None


@dataclass(frozen=True, slots=True)
class SecureScoreSummary:
    current: float
    max: float
    percent: float
    change_7d: float | None
    change_30d: float | None
    peers: tuple[tuple[str, float], ...]  # (basis, average score) exactly as Graph returns them
    controls: tuple[ScoreControl, ...]  # the compromise-related improvement actions, most points first
    as_of: datetime | None = None


def topic_of(control_id: str, title: str) -> str | None:
    text = f"{control_id} {title}".lower()
    for topic, words in COMPROMISE_TOPICS:
        if any(w in text for w in words):
            return topic
    return None


def _utc(dt: datetime | None) -> datetime | None:
    return None if dt is None else (dt if dt.tzinfo else dt.replace(tzinfo=UTC))


def change_over(history: Sequence[SecureScore], days: int) -> float | None:
    """Today's score minus the score `days` ago (None when the history does not reach that far)."""
    if not history or history[0].created is None:
        return None
    latest = _utc(history[0].created)
    assert latest is not None
    target = latest - timedelta(days=days)
    best: SecureScore | None = None
    for entry in history[1:]:
        when = _utc(entry.created)
        if when is None or abs(when - target) > TOLERANCE:
            continue
        if best is None or abs(when - target) < abs(_utc(best.created) - target):  # type: ignore[operator]
            best = entry
    return None if best is None else round(history[0].current_score - best.current_score, 2)


def summarise(history: Sequence[SecureScore], profiles: Sequence[ControlProfile]) -> SecureScoreSummary | None:
    """The summary from a history sorted newest first, or None when Graph returned no score."""
    if not history:
        return None
    latest = history[0]
    scores = {str(c.get("controlName")): c for c in latest.control_scores}
    controls = []
    for p in profiles:
        topic = topic_of(p.id, p.title)
        if topic is None or p.deprecated:
            continue
        c = scores.get(p.id, {})
        score = float(c.get("score") or 0.0)
        status = str(c.get("implementationStatus") or c.get("description") or "")
        controls.append(ScoreControl(id=p.id, title=p.title, topic=topic, score=score, max_score=p.max_score,
                                     points_available=round(max(0.0, p.max_score - score), 2),
                                     status="" if status == p.title else status,
                                     action_url=p.action_url))
    controls.sort(key=lambda c: (-c.points_available, c.title))
    peers = tuple((str(a.get("basis")), float(a.get("averageScore") or 0.0)) for a in latest.averages
                  if a.get("basis") is not None)
    percent = round(100.0 * latest.current_score / latest.max_score, 1) if latest.max_score > 0 else 0.0
    return SecureScoreSummary(current=latest.current_score, max=latest.max_score, percent=percent,
                              change_7d=change_over(history, 7), change_30d=change_over(history, 30), peers=peers,
                              controls=tuple(controls), as_of=_utc(latest.created))
