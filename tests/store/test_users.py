"""The /lang choice is stored per user and survives a reopen."""

from __future__ import annotations

from bot.store.users import UserStore
from tests.store.conftest import Where


def test_language_choice_persists(where: Where) -> None:
    users = UserStore(where())
    assert users.get_lang(42) is None
    users.set_lang(42, "fr")
    users.set_lang(42, "en")
    users.set_lang(7, "fr")
    users.close()
    reopened = UserStore(where())
    assert (reopened.get_lang(42), reopened.get_lang(7), reopened.count()) == ("en", "fr", 2)
    reopened.close()
