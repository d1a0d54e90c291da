"""The /lang choice is stored per user and survives a reopen."""

from __future__ import annotations

from pathlib import Path

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


def test_choosing_the_stored_language_again_writes_nothing(tmp_path: Path) -> None:
    """/lang fr twice: one journal line (TinyDB shows it); the choice survives a reopen."""
    users = UserStore(tmp_path)
    users.set_lang(42, "fr")
    journal = tmp_path / "users.journal"
    written = journal.read_bytes()
    users.set_lang(42, "fr")
    assert journal.read_bytes() == written
    users.set_lang(42, "en")
    assert len(journal.read_bytes().splitlines()) == 2
    users.close()
    reopened = UserStore(tmp_path)
    assert reopened.get_lang(42) == "en"
    reopened.close()
