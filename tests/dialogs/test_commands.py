"""The chat grammar: exact parsing, mention removal from entities, refusals as sentences."""

from __future__ import annotations

import pytest

from dialogs.commands import (
    Help,
    Investigate,
    Refused,
    Score,
    SetChannel,
    Status,
    Unknown,
    normalise_who,
    parse,
    strip_mentions,
)

BOT = "28:bot-id"
MENTION = {"type": "mention", "text": "<at>Contain</at>", "mentioned": {"id": BOT, "name": "Contain"}}


@pytest.mark.parametrize(("text", "personal", "mentioned", "expected"), [
    ("/compromised alice", False, False, Investigate("alice")),
    ("/compromised alice@contoso.com", False, False, Investigate("alice@contoso.com")),
    ("/Compromised   Alice    Wilson ", False, False, Investigate("Alice Wilson")),
    ('/compromised "Alice Wilson"', False, False, Investigate("Alice Wilson")),
    ("/compromised \u201cAlice Wilson\u201d", False, False, Investigate("Alice Wilson")),
    ("/compromised O'Brien", False, False, Investigate("O'Brien")),
    ("/compromised\u00a0alice", False, False, Investigate("alice")),
    ("/compromised status alice", False, False, Status("alice")),
    ("/compromised STATUS \"Alice Wilson\"", False, False, Status("Alice Wilson")),
    ("/compromised score", False, False, Score()),
    ("/compromised set-channel", False, False, SetChannel()),
    ("/compromised help", False, False, Help()),
    ("/compromised", False, False, Help()),
    ('/compromised "score"', False, False, Investigate("score")),
    ("/compromised score extra", False, False, Unknown("score extra")),
    ("compromised alice", True, False, Investigate("alice")),
    ("compromised alice", False, True, Investigate("alice")),
    ("compromised alice", False, False, Unknown("compromised alice")),
    ("help", True, False, Help()),
    ("help", False, True, Help()),
    ("help me", True, False, Unknown("help me")),
    ("", True, False, Help()),
    ("", False, False, Unknown("")),
    ("is alice compromised?", True, False, Unknown("is alice compromised?")),
    ("/compromisedalice", True, False, Unknown("/compromisedalice")),
    ("please /compromised alice", True, False, Unknown("please /compromised alice")),
    ("/other alice", True, False, Unknown("/other alice")),
])
def test_grammar(text: str, personal: bool, mentioned: bool, expected: object) -> None:
    assert parse(text, personal=personal, mentioned=mentioned) == expected


def test_status_needs_a_name() -> None:
    result = parse("/compromised status", personal=True)
    assert isinstance(result, Refused) and result.reason.endswith(".")


def test_bot_mention_is_removed_by_entity_not_by_substring() -> None:
    text, mentioned = strip_mentions("<at>Contain</at> compromised alice", [MENTION], BOT)
    assert mentioned and parse(text, personal=False, mentioned=mentioned) == Investigate("alice")


def test_a_mention_of_someone_else_is_not_the_bot() -> None:
    other = {"type": "mention", "text": "<at>Contain</at>", "mentioned": {"id": "29:someone", "name": "Contain"}}
    text, mentioned = strip_mentions("<at>Contain</at> compromised alice", [other], BOT)
    assert not mentioned
    assert parse(text, personal=False, mentioned=mentioned) == Unknown("Contain compromised alice")


def test_other_mentions_become_plain_names() -> None:
    alice = {"type": "mention", "text": "<at>Alice Wilson</at>", "mentioned": {"id": "29:alice", "name": "Alice"}}
    text, mentioned = strip_mentions("<at>Contain</at> compromised <at>Alice Wilson</at>", [MENTION, alice], BOT)
    assert parse(text, personal=False, mentioned=mentioned) == Investigate("Alice Wilson")


def test_malformed_entities_are_ignored() -> None:
    entities = [{"type": "mention"}, {"type": "mention", "text": 5, "mentioned": "x"}, "junk", {"type": "clientInfo"}]
    assert strip_mentions("compromised alice", entities, BOT) == ("compromised alice", False)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["a" * 10_240, "b" * 257, "alice\u202e", "al\u200bice", "x\x00", "\ue000",
                                 "alice\u2029", '""', "\U0001f600" * 300])
def test_who_refusals_are_sentences(raw: str) -> None:
    result = normalise_who(raw)
    assert isinstance(result, Refused)
    assert result.reason[0].isupper() and result.reason.endswith(".")


@pytest.mark.parametrize(("raw", "expected"), [
    ("  alice  ", "alice"), ("Zoë Åberg", "Zoë Åberg"), ("Ле́в", "Ле́в"), ("李 小龙", "李 小龙"),
    ("b" * 256, "b" * 256), ("alice\tsmith", "alice smith"), ('"Alice"', "Alice"), ("\U0001f600", "\U0001f600"),
])
def test_who_is_normalised(raw: str, expected: str) -> None:
    assert normalise_who(raw) == expected


def test_ten_kilobyte_message_is_refused_not_parsed() -> None:
    result = parse("/compromised " + "x" * 10_240, personal=True)
    assert isinstance(result, Refused)
