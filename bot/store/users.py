"""User preferences (language for now) in ``users.json``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinydb import Query, TinyDB

from bot.domain import Lang
from bot.store.atomic import AtomicJSONStorage

USERS_FILE = "users.json"


@dataclass(frozen=True)
class UserPrefs:
    user_id: int
    lang: Lang | None = None


class UserStore:
    """Reads are served from an index kept in memory: a TinyDB query scans the whole table, and
    every update asks for the user's language (2 ms at 10,000 users, 21 ms at 100,000,
    measured while profiling the soak). One process owns the file, so the index stays true."""

    def __init__(self, data_dir: Path) -> None:
        self._db = TinyDB(data_dir / USERS_FILE, storage=AtomicJSONStorage)
        self._users = self._db.table("users")
        self._langs: dict[int, Lang | None] = {
            int(doc["user_id"]): _lang(doc.get("lang")) for doc in self._users.all()
        }

    @property
    def db(self) -> TinyDB:
        """The open users.json database, for stores that live in the same file."""
        return self._db

    def close(self) -> None:
        self._db.close()

    def get(self, user_id: int) -> UserPrefs:
        return UserPrefs(user_id, self._langs.get(user_id))

    def get_lang(self, user_id: int) -> Lang | None:
        return self._langs.get(user_id)

    def set_lang(self, user_id: int, lang: Lang) -> None:
        self._users.upsert({"user_id": user_id, "lang": lang}, Query().user_id == user_id)
        self._langs[user_id] = lang

    def count(self) -> int:
        return len(self._langs)


def _lang(value: object) -> Lang | None:
    return "fr" if value == "fr" else "en" if value == "en" else None
