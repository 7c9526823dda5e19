import json

import pytest

from services.alerts.webhook import WebhookRefused, parse, sign, verify

SECRET = "whsec-test"
BODY = json.dumps({"alert_id": "a1", "source": "siem", "account": "alice@contoso.com",
                   "severity": "high", "title": "Impossible travel"}).encode()


def test_good_signature_returns_the_replay_key() -> None:
    sig = sign(SECRET, "1000", BODY)
    assert verify(secret=SECRET, timestamp="1000", signature=sig, body=BODY, now=1010) == sig.removeprefix("sha256=")


@pytest.mark.parametrize(
    ("timestamp", "signature", "now", "match"),
    [
        ("1000", None, 1000, "missing"),
        (None, "sha256=" + "0" * 64, 1000, "missing"),
        ("10a0", "sha256=" + "0" * 64, 1000, "unix seconds"),
        ("1000", "sha256=" + "0" * 64, 1000, "does not match"),
        ("1000", "md5=abc", 1000, "sha256=<64 hex"),
        ("1000", "SIGNED", 1000, "sha256=<64 hex"),
    ],
)
def test_bad_deliveries_are_refused(timestamp: str | None, signature: str | None, now: float, match: str) -> None:
    with pytest.raises(WebhookRefused, match=match):
        verify(secret=SECRET, timestamp=timestamp, signature=signature, body=BODY, now=now)


def test_stale_delivery_is_refused_even_with_a_good_signature() -> None:
    sig = sign(SECRET, "1000", BODY)
    with pytest.raises(WebhookRefused, match="older than five minutes"):
        verify(secret=SECRET, timestamp="1000", signature=sig, body=BODY, now=1000 + 301)


def test_signature_over_another_body_is_refused() -> None:
    sig = sign(SECRET, "1000", BODY)
    with pytest.raises(WebhookRefused, match="does not match"):
        verify(secret=SECRET, timestamp="1000", signature=sig, body=BODY + b" ", now=1000)


def test_parse_accepts_a_well_formed_alert() -> None:
    alert = parse(BODY)
    assert (alert.alert_id, alert.account, alert.severity) == ("a1", "alice@contoso.com", "high")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"alert_id": "a", "source": "s", "account": "x", "severity": "apocalyptic", "title": "t"}).encode(),
         "severity"),
        (json.dumps({"alert_id": "a", "source": "s", "severity": "high", "title": "t"}).encode(), "'account'"),
        (json.dumps({"alert_id": "a", "source": "s", "account": "x" * 300, "severity": "high", "title": "t"}).encode(),
         "longer than"),
    ],
)
def test_parse_refuses_malformed_alerts_with_400(body: bytes, match: str) -> None:
    with pytest.raises(WebhookRefused, match=match) as err:
        parse(body)
    assert err.value.status == 400
