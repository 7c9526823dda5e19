"""Fixtures shared by the bot transport tests."""

from tests.support.botfixtures import *  # noqa: F403
