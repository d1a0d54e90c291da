"""The /lang choice is stored per user and survives a reopen."""

from __future__ import annotations

from pathlib import Path

from bot.store.users import UserStore


def test_language_choice_persists(tmp_path: Path) -> None:
    users = UserStore(tmp_path)
    assert users.get_lang(42) is None
    users.set_lang(42, "fr")
    users.set_lang(42, "en")
    users.set_lang(7, "fr")
    users.close()
    reopened = UserStore(tmp_path)
    assert (reopened.get_lang(42), reopened.get_lang(7), reopened.count()) == ("en", "fr", 2)
    reopened.close()
