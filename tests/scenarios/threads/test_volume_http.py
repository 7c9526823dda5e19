"""Issue 4's volume acceptance, scaled down, end to end through the bot's HTTP endpoint: 120 signed
deliveries for 6 accounts (20 % redeliveries, 5 % bad signatures), 25 in flight, over real HTTP to
POST /api/alerts of the real app → exactly 6 channel threads, every valid alert recorded once, every bad one
refused. bench/alerts_http.py runs the full 1,000 deliveries for 50 accounts with the same code."""

from __future__ import annotations

from pathlib import Path

from bench.alerts_http import measure


async def test_a_burst_over_http_makes_exactly_one_channel_thread_per_account(tmp_path: Path) -> None:
    out = await measure(home=tmp_path, total=120, accounts=6, concurrency=25)

    assert (out["deliveries"], out["accounts"]) == (120, 6)
    # One create-conversation per account, each the thread of that account's one incident.
    assert out["threads"] == out["thread_starts"] == 6
    assert out["incidents"] == out["incident_accounts"] == out["incidents_in_their_thread"] == 6
    # 114 good deliveries: 90 distinct alerts and 24 redeliveries, all answered 202; the 6 bad ones 401.
    assert (out["valid_alerts"], out["recorded"], out["recorded_unique"]) == (90, 90, 90)
    assert (out["accepted"], out["duplicates"], out["http_202"]) == (90, 24, 114)
    assert (out["refused"], out["bad_refused"], out["other_statuses"]) == (6, 6, [])
    # Later alerts for an account are replies in its thread (some land on the card instead, when they
    # arrive before it is posted), never a second thread.
    assert 0 < out["replies"] <= 90 - 6
    assert out["ok"] is True
    # No thread starts with an empty investigation, and every alert shows in its thread (card or reply).
    assert out["cards_posted_before_investigation"] == 0 and out["alerts_not_on_their_thread"] == 0
    assert out["threads_complete"] is True
