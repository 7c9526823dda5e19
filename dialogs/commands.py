"""The chat grammar, parsed exactly: no substring routing.

    /compromised <who>            investigate an account
    @Contain compromised <who>    the same, in a channel (the bot's mention is removed first)
    compromised <who>             the same, in a 1:1 chat
    /compromised status <who>     the open incident for an account
    /compromised score            Secure Score summary
    /compromised set-channel      post alert threads in this channel
    /compromised help | help      what Contain understands

`<who>` is a name, a UPN or a quoted display name ("Alice Wilson"). It is stripped, its whitespace
collapsed, and it is refused (with a sentence, never an exception) when longer than 256 characters
or when it holds control, format (bidi overrides, zero-width), private-use or unassigned characters:
those make a name look like something it is not in a card or an audit row.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_WHO = 256
# Anything longer is not a command; refuse before doing any per-character work on it.
MAX_TEXT = 4096
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_QUOTES = {'"': '"', "\u201c": "\u201d", "'": "'", "\u2018": "\u2019"}
_AT_TAG = re.compile(r"<at(?:\s[^>]*)?>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_SUBCOMMANDS = ("status", "score", "set-channel", "help")
COMMAND_WORD = "compromised"


@dataclass(frozen=True, slots=True)
class Investigate:
    who: str


@dataclass(frozen=True, slots=True)
class Status:
    who: str


@dataclass(frozen=True, slots=True)
class Score:
    pass


@dataclass(frozen=True, slots=True)
class SetChannel:
    pass


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Unknown:
    """Text that is not a command: the dialogs answer with help, never guess."""

    text: str


@dataclass(frozen=True, slots=True)
class Refused:
    """A command whose argument cannot be accepted; `reason` is one sentence for the user."""

    reason: str


Command = Investigate | Status | Score | SetChannel | Help | Unknown | Refused


def strip_mentions(text: str, entities: Iterable[Mapping[str, Any]] | None, bot_id: str | None) -> tuple[str, bool]:
    """Remove the bot's own mention(s), using the activity's mention entities, and turn any other
    `<at>Name</at>` into plain `Name`. Returns the text and whether the bot was mentioned."""
    mentioned = False
    for entity in entities or ():
        if not isinstance(entity, Mapping) or entity.get("type") != "mention":
            continue
        who = entity.get("mentioned")
        mention_text = entity.get("text")
        if not isinstance(who, Mapping) or not isinstance(mention_text, str) or not mention_text:
            continue
        if bot_id and who.get("id") == bot_id:
            if mention_text in text:
                text = text.replace(mention_text, " ")
                mentioned = True
    return _AT_TAG.sub(lambda m: m.group(1), text), mentioned


def normalise_who(raw: str) -> str | Refused:
    """The account argument as the services will see it, or a refusal sentence."""
    if len(raw) > MAX_TEXT:
        return Refused(f"That name is too long: Contain accepts at most {MAX_WHO} characters.")
    for char in raw:
        if unicodedata.category(char) in _REFUSED_CATEGORIES and char not in "\t\n\r":
            return Refused("That name contains invisible or control characters; type it again as plain text.")
    who = " ".join(unicodedata.normalize("NFC", raw).split())
    if len(who) >= 2 and who[0] in _QUOTES and who[-1] == _QUOTES[who[0]]:
        who = " ".join(who[1:-1].split())
    if not who:
        return Refused("Say whose account: for example /compromised alice@contoso.com.")
    if len(who) > MAX_WHO:
        return Refused(f"That name is too long: Contain accepts at most {MAX_WHO} characters.")
    return who


def _subcommand(rest: str) -> Command:
    words = rest.split(maxsplit=1)
    if not words:
        return Help()
    head = words[0].lower()
    tail = words[1] if len(words) > 1 else ""
    if head in _SUBCOMMANDS:
        if head == "status":
            who = normalise_who(tail)
            return who if isinstance(who, Refused) else Status(who)
        if tail.strip():
            return Unknown(rest)
        simple: dict[str, Command] = {"score": Score(), "set-channel": SetChannel(), "help": Help()}
        return simple[head]
    who = normalise_who(rest)
    return who if isinstance(who, Refused) else Investigate(who)


def parse(text: str | None, *, personal: bool, mentioned: bool = False) -> Command:
    """Parse a message already stripped of the bot's mention.

    `personal`: the message came from a 1:1 chat with the bot; `mentioned`: the bot was @mentioned.
    Outside those, only the slash form is a command (Teams delivers channel messages to a bot only
    when it is mentioned, but a group chat may still send plain text)."""
    if not text or not text.strip():
        return Help() if (personal or mentioned) else Unknown("")
    if len(text) > MAX_TEXT:
        return Refused("That message is too long to be a command.")
    stripped = text.strip()
    # Teams may separate words with non-breaking spaces; split() treats every Unicode space alike.
    parts = stripped.split(maxsplit=1)
    first = parts[0]
    rest = parts[1] if len(parts) > 1 else ""
    word = first.lower()
    if word == "/" + COMMAND_WORD:
        return _subcommand(rest)
    if personal or mentioned:
        if word == COMMAND_WORD:
            return _subcommand(rest)
        if word == "help" and not rest:
            return Help()
    return Unknown(stripped[:MAX_WHO])
