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
    def __init__(self, data_dir: Path) -> None:
        self._db = TinyDB(data_dir / USERS_FILE, storage=AtomicJSONStorage)
        self._users = self._db.table("users")

    @property
    def db(self) -> TinyDB:
        """The open users.json database, for stores that live in the same file."""
        return self._db

    def close(self) -> None:
        self._db.close()

    def get(self, user_id: int) -> UserPrefs:
        doc = self._users.get(Query().user_id == user_id)
        if doc is None or isinstance(doc, list):
            return UserPrefs(user_id)
        lang = doc.get("lang")
        return UserPrefs(user_id, lang if lang in ("fr", "en") else None)

    def get_lang(self, user_id: int) -> Lang | None:
        return self.get(user_id).lang

    def set_lang(self, user_id: int, lang: Lang) -> None:
        self._users.upsert({"user_id": user_id, "lang": lang}, Query().user_id == user_id)

    def count(self) -> int:
        return len(self._users)
