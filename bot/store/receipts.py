"""Which fact revisions each chat was told, in ``receipts.json``: who a correction is owed to.

Recorded where replies are delivered (bot/tg/send.py for briefings, cards and answers; the
digest fan-out for digests and correction notes). Bounded per chat: the last
:data:`KEEP_PER_CHAT` facts it was told, so a reader of every briefing costs the same as one
who read a few. One document per chat, replaced whole (JournaledTables keeps it in memory).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bot.store.journal import Doc, opened_with
from bot.store.tables import Backend, Tables, backend_of

RECEIPTS = "receipts"
RECEIPTS_FILE = f"{RECEIPTS}.json"
KEEP_PER_CHAT = 200
_TABLE = "chats"


class ReceiptStore:
    def __init__(self, tables: Tables, keep: int = KEEP_PER_CHAT) -> None:
        self._tables = tables
        self._keep = keep
        # fact id -> chats that hold a receipt for it (rebuilt at opening)
        self._readers: dict[str, set[int]] = {}
        for doc in tables.table(_TABLE).values():
            for fact_id in doc["got"]:
                self._readers.setdefault(fact_id, set()).add(int(doc["chat"]))
        tables.observe(self._changed)

    def _changed(self, changes: Mapping[str, Mapping[str, Doc | None]]) -> None:
        """Another replica told a chat facts: corrections planned here must reach it too."""
        for key, doc in changes.get(_TABLE, {}).items():
            chat = int(key)
            for readers in self._readers.values():
                readers.discard(chat)
            if doc is not None:
                for fact_id in doc["got"]:
                    self._readers.setdefault(fact_id, set()).add(chat)

    @classmethod
    def open(cls, where: Path | Backend, keep: int = KEEP_PER_CHAT) -> ReceiptStore:
        tables = backend_of(where).open_tables(
            RECEIPTS,
            {_TABLE: lambda doc: str(doc["chat"])},
            compact_every=5000,
            durable=False,  # as the ledger: a kill -9 loses nothing, sync() after a sweep
        )
        return opened_with(tables, lambda opened: cls(opened, keep))

    def close(self) -> None:
        self._tables.close()

    def sync(self) -> None:
        self._tables.sync()

    def record(
        self,
        chat_id: int,
        facts: Iterable[tuple[str, int]],
        at: dt.datetime,
        lang: str | None = None,
    ) -> None:
        """``chat_id`` was told these (fact id, revision) at ``at``, in ``lang``; the first
        telling of a revision is the one kept. Nothing new: nothing written."""
        doc = self._tables.table(_TABLE).get(str(chat_id))
        got: dict[str, list[Any]] = dict(doc["got"]) if doc else {}
        known_lang = doc.get("lang") if doc else None
        changed = lang is not None and lang != known_lang
        for fact_id, revision in facts:
            known = got.get(fact_id)
            if known is not None and known[0] == revision:
                continue
            got.pop(fact_id, None)  # re-inserted last: the newest telling is kept longest
            got[fact_id] = [revision, at.isoformat()]
            self._readers.setdefault(fact_id, set()).add(chat_id)
            changed = True
        if not changed:
            return
        while len(got) > self._keep:
            dropped = next(iter(got))
            del got[dropped]
            self._readers.get(dropped, set()).discard(chat_id)
        self._tables.put(
            _TABLE, str(chat_id), {"chat": chat_id, "got": got, "lang": lang or known_lang}
        )

    def lang(self, chat_id: int) -> str | None:
        """The language this chat was last told facts in (a correction is written in it)."""
        doc = self._tables.table(_TABLE).get(str(chat_id))
        return None if doc is None else doc.get("lang")

    def told(self, chat_id: int, fact_id: str) -> tuple[int, dt.datetime] | None:
        """(revision, when) this chat was last told of ``fact_id``, if it still remembers."""
        doc = self._tables.table(_TABLE).get(str(chat_id))
        entry = doc["got"].get(fact_id) if doc else None
        return None if entry is None else (int(entry[0]), dt.datetime.fromisoformat(entry[1]))

    def readers(self, fact_id: str, before: dt.datetime) -> list[int]:
        """The chats told of ``fact_id`` before ``before``, in chat id order."""
        found = []
        for chat_id in sorted(self._readers.get(fact_id, ())):
            told = self.told(chat_id, fact_id)
            if told is not None and told[1] < before:
                found.append(chat_id)
        return found
