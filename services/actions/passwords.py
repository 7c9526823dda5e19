"""Temporary passwords for reset_password.

Entra ID accepts 8 to 256 characters with at least three of four character classes; Contain makes
them longer (20) and uses all four, from an alphabet without look-alikes (0/O, 1/l/I) and without
characters that break when pasted into a shell or a chat (quotes, backslash, space). The password
is made from `secrets`, handed to the caller once, and never stored or logged by Contain.
"""

from __future__ import annotations

import secrets

LOWER = "abcdefghijkmnpqrstuvwxyz"  # no l, o
UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, O
DIGITS = "23456789"  # no 0, 1
SYMBOLS = "!#$%&*+-=?@^_"
CLASSES = (LOWER, UPPER, DIGITS, SYMBOLS)
ALPHABET = "".join(CLASSES)
DEFAULT_LENGTH = 20
MIN_LENGTH = 16


def generate(length: int = DEFAULT_LENGTH) -> str:
    """A random password of `length` characters with every character class at least once."""
    if length < MIN_LENGTH:
        raise ValueError(f"Temporary passwords are at least {MIN_LENGTH} characters long.")
    rng = secrets.SystemRandom()
    while True:
        chars = [secrets.choice(cls) for cls in CLASSES]
        chars += [secrets.choice(ALPHABET) for _ in range(length - len(chars))]
        rng.shuffle(chars)
        password = "".join(chars)
        if is_strong(password):
            return password


def is_strong(password: str) -> bool:
    """Contain's own bar: MIN_LENGTH+ characters from ALPHABET, every class present, no character three
    times in a row."""
    if len(password) < MIN_LENGTH or any(c not in ALPHABET for c in password):
        return False
    if not all(any(c in cls for c in password) for cls in CLASSES):
        return False
    return not any(password[i] == password[i + 1] == password[i + 2] for i in range(len(password) - 2))
