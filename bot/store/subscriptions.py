"""Subscriptions, stored beside the users in ``users.json`` (the ledger has its own file).

It shares the users' TinyDB instance: two instances on one file would each cache the file and
overwrite the other's writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from tinydb import Query, TinyDB

from bot.domain import Subscription


class SubscriptionStore:
    """Reads come from an in-memory copy (the sweep reads every subscription every minute);
    writes go through TinyDB first, so memory never holds what the disk does not."""

    def __init__(self, db: TinyDB) -> None:
        self._table = db.table("subscriptions")
        self._subs = {sub.chat_id: sub for sub in map(_from_doc, self._table.all())}

    def get(self, chat_id: int) -> Subscription | None:
        return self._subs.get(chat_id)

    def put(self, sub: Subscription) -> None:
        self._table.upsert(_doc(sub), Query().chat_id == sub.chat_id)
        self._subs[sub.chat_id] = sub

    def delete(self, chat_id: int) -> bool:
        removed = bool(self._table.remove(Query().chat_id == chat_id))
        self._subs.pop(chat_id, None)
        return removed

    def all(self) -> list[Subscription]:
        return list(self._subs.values())

    def set_active(self, chat_id: int, active: bool) -> None:
        """Blocked users keep their data; coming back with /start reactivates them."""
        sub = self.get(chat_id)
        if sub is not None and sub.active != active:
            self.put(replace(sub, active=active))


def _doc(sub: Subscription) -> dict[str, Any]:
    return {
        "chat_id": sub.chat_id,
        "user_id": sub.user_id,
        "at": sub.at.strftime("%H:%M"),
        "zone": sub.zone,
        "lang": sub.lang,
        "locale": sub.locale,
        "since": sub.since.isoformat(),
        "last_sent_at": sub.last_sent_at.isoformat(),
        "weekdays_only": sub.weekdays_only,
        "skip_empty": sub.skip_empty,
        "paused": sub.paused,
        "active": sub.active,
    }


def _from_doc(doc: dict[str, Any]) -> Subscription:
    return Subscription(
        chat_id=int(doc["chat_id"]),
        user_id=int(doc["user_id"]),
        at=dt.time.fromisoformat(doc["at"]),
        zone=str(doc["zone"]),
        lang="fr" if doc["lang"] == "fr" else "en",
        locale=str(doc.get("locale") or doc["lang"]),
        since=dt.datetime.fromisoformat(doc["since"]),
        last_sent_at=dt.datetime.fromisoformat(doc["last_sent_at"]),
        weekdays_only=bool(doc.get("weekdays_only", False)),
        skip_empty=bool(doc.get("skip_empty", False)),
        paused=bool(doc.get("paused", False)),
        active=bool(doc.get("active", True)),
    )
