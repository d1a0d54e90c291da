"""Subscriptions, stored beside the users in ``users.json`` (the ledger has its own file).

They share the users' journaled tables: two writers on one file would overwrite each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from bot.core.domain import Subscription
from bot.store.journal import Doc
from bot.store.tables import Tables


class SubscriptionStore:
    """Reads come from an in-memory copy (the sweep reads every subscription every minute);
    writes go to the journal first (see journal.py), so memory never holds what the disk does
    not, with one exception: deactivations during a sweep, saved together at its end (see
    set_active)."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables
        self._subs = {
            sub.chat_id: sub for sub in map(_from_doc, tables.table("subscriptions").values())
        }
        tables.observe(self._changed)

    def _changed(self, changes: Mapping[str, Mapping[str, Doc | None]]) -> None:
        for key, doc in changes.get("subscriptions", {}).items():
            if doc is None:
                self._subs.pop(int(key), None)
            else:
                sub = _from_doc(doc)
                self._subs[sub.chat_id] = sub

    def get(self, chat_id: int) -> Subscription | None:
        return self._subs.get(chat_id)

    def put(self, sub: Subscription) -> None:
        self._tables.put("subscriptions", str(sub.chat_id), _doc(sub))
        self._subs[sub.chat_id] = sub

    def delete(self, chat_id: int) -> bool:
        if chat_id not in self._subs:
            return False
        self._tables.put("subscriptions", str(chat_id), None)
        del self._subs[chat_id]
        return True

    def all(self) -> list[Subscription]:
        return list(self._subs.values())

    def set_active(self, chat_id: int, active: bool, *, save: bool = True) -> bool:
        """Blocked users keep their data; coming back with /start reactivates them. Returns
        whether anything changed.

        A sweep passes ``save=False`` and calls save_active() once at its end: one journal
        write and one fsync for all of its blocked subscribers. A crash in between loses only
        the flag: the ledger already holds that day's digest as final, and the next day's 403
        sets it again.
        """
        sub = self.get(chat_id)
        if sub is None or sub.active == active:
            return False
        if save:
            self.put(replace(sub, active=active))
        else:
            self._subs[chat_id] = replace(sub, active=active)
        return True

    def save_active(self, chat_ids: Collection[int]) -> None:
        """Writes these subscriptions as memory holds them now, all in one write: a user who
        came back with /start since the sweep deactivated them stays active."""
        self._tables.put_many(
            "subscriptions",
            {str(c): _doc(self._subs[c]) for c in dict.fromkeys(chat_ids) if c in self._subs},
        )


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
        "topics": None if sub.topics is None else list(sub.topics),
    }


def subscription_of(doc: dict[str, Any]) -> Subscription:
    """A subscription from its stored document (the delivery queue keeps a copy)."""
    return _from_doc(doc)


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
        # Documents from before topic choice have no "topics": every topic.
        topics=None if doc.get("topics") is None else tuple(str(t) for t in doc["topics"]),
    )
