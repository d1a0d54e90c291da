"""The delivery ledger: one entry per (chat id, local date), so no digest goes out twice.

TinyDB rewrites its whole file on every write (25 ms at 10,000 documents), far too slow for two
writes per digest. Entries are therefore appended to a journal first, one ``os.write`` each, and
folded into ``ledger.json`` (TinyDB's format, atomic) in batches (see journal.py). An
``os.write`` that has returned is in the kernel's page cache, so it survives a kill -9 of this
process; only a power cut can lose the journal's tail, and ``sync`` (called after every sweep)
bounds that loss.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.store.journal import Doc, KeyOf, journal_line, journal_path
from bot.store.tables import Backend, TinyDBBackend, backend_of

LEDGER_FILE = "ledger.json"
JOURNAL_FILE = "ledger.journal"
# Written before a send; still there after a restart means "not known to have reached Telegram".
SENDING = "sending"
FINAL = frozenset({"sent", "skipped", "blocked"})
KEEP_DAYS = 35
_TABLE = "deliveries"
TABLE_KEYS: dict[str, KeyOf] = {_TABLE: lambda doc: _key(int(doc["chat"]), str(doc["date"]))}


@dataclass(frozen=True)
class Entry:
    chat_id: int
    local_date: dt.date
    status: str
    at: dt.datetime
    parts: int = 0  # messages of a "sending" delivery that Telegram has accepted


class Ledger:
    def __init__(
        self,
        where: Path | Backend,
        *,
        today: Callable[[], dt.date],
        compact_every: int = 10_000,
        name: str = "ledger",
    ) -> None:
        # Digests use ledger.json; each broadcast gets its own pair of files. No fsync per entry
        # (up to three a message): sync() after each sweep bounds what a power cut can take.
        # Folding rewrites the whole ledger: every 1,000 entries it cost a broadcast about 4 %
        # of its CPU, hence 10,000; replaying that many journal lines at start takes 40 ms.
        backend = self._backend = backend_of(where)
        if isinstance(backend, TinyDBBackend):
            _upgrade_journal(journal_path(backend.data_dir / f"{name}.json"))
        self._tables = backend.open_tables(
            name,
            TABLE_KEYS,
            compact_every=compact_every,
            durable=False,
            keep=lambda _, doc: str(doc["date"]) >= _horizon(today()),
        )
        self._deliveries = self._tables.table(_TABLE)
        # Per chat, when its latest digest went out and the local day it was due (a late
        # catch-up digest goes out the next day).
        self._last_sent: dict[int, tuple[dt.datetime, dt.date]] = {}
        for doc in self._deliveries.values():
            self._note_sent(_entry(doc))
        self._tables.observe(self._changed)

    def _changed(self, changes: Mapping[str, Mapping[str, Doc | None]]) -> None:
        # The deliveries are read from the tables themselves; only the latest sends are kept
        # here (a delete is the horizon's: it never removes a chat's latest digest).
        for doc in changes.get(_TABLE, {}).values():
            if doc is not None:
                self._note_sent(_entry(doc))

    def _note_sent(self, entry: Entry) -> None:
        if entry.status == "sent":
            last = self._last_sent.get(entry.chat_id)
            if last is None or entry.at > last[0]:
                self._last_sent[entry.chat_id] = (entry.at, entry.local_date)

    def _doc_for(self, chat_id: int, local_date: dt.date) -> dict[str, Any] | None:
        return self._deliveries.get(_key(chat_id, local_date.isoformat()))

    def status(self, chat_id: int, local_date: dt.date) -> str | None:
        doc = self._doc_for(chat_id, local_date)
        return None if doc is None else str(doc["status"])

    def is_final(self, chat_id: int, local_date: dt.date) -> bool:
        return self.status(chat_id, local_date) in FINAL

    def last_sent(self, chat_id: int) -> dt.datetime | None:
        last = self._last_sent.get(chat_id)
        return None if last is None else last[0]

    def last_sent_day(self, chat_id: int) -> dt.date | None:
        """The local day the latest digest sent to this chat was due."""
        last = self._last_sent.get(chat_id)
        return None if last is None else last[1]

    def parts_sent(self, chat_id: int, local_date: dt.date) -> int:
        """How many messages of an unfinished multi-part delivery already went out."""
        doc = self._doc_for(chat_id, local_date)
        return int(doc.get("parts", 0)) if doc is not None and doc["status"] == SENDING else 0

    def record(
        self, chat_id: int, local_date: dt.date, status: str, at: dt.datetime, parts: int = 0
    ) -> None:
        entry = Entry(chat_id, local_date, status, at, parts)
        self._tables.put(_TABLE, _key(chat_id, local_date.isoformat()), _doc(entry))
        self._note_sent(entry)

    def entries(self) -> list[Entry]:
        return [_entry(doc) for doc in self._deliveries.values()]

    @property
    def ready(self) -> bool:
        """Whether an entry recorded now reaches durable storage without waiting (always, on
        TinyDB; not while PostgreSQL is away)."""
        return self._backend.ready

    async def written(self, within: float) -> bool:
        """Wait until every entry recorded so far is durable; False after ``within`` seconds."""
        return await self._backend.written(within)

    def sync(self) -> None:
        """Make the journal durable against power loss too (a kill -9 never needs this)."""
        self._tables.sync()

    def settle(self) -> None:
        """Wait for a fold of the journal in progress (journal.py folds on a worker thread)."""
        self._tables.settle()

    def compact(self) -> None:
        """Fold the journal into the ledger's file, dropping entries older than KEEP_DAYS."""
        self._tables.compact()

    def close(self) -> None:
        self._tables.close()


def remove_ledger(where: Path | Backend, name: str) -> None:
    """Deletes a closed ledger's entries (a finished broadcast's)."""
    backend_of(where).remove(name)


def _upgrade_journal(journal: Path) -> None:
    """Rewrites a journal left by a version that wrote bare entries, one per line, before the
    ledger used journaled tables; a crash of that version can leave one un-folded, and losing
    it would let a digest go out twice."""
    try:
        lines = journal.read_bytes().splitlines()
    except FileNotFoundError:
        return
    changes = []
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue  # a torn last line, as replaying skips
        if not isinstance(doc, dict) or "t" in doc or "chat" not in doc:
            return  # already in the current format
        changes.append(journal_line(_TABLE, _key(int(doc["chat"]), str(doc["date"])), doc))
    if changes:
        tmp = journal.with_name(journal.name + ".upgrade")
        with tmp.open("wb") as out:
            out.write("".join(changes).encode())
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(journal)


def _key(chat_id: int, local_date: str) -> str:
    return f"{chat_id}:{local_date}"


def _horizon(today: dt.date) -> str:
    return (today - dt.timedelta(days=KEEP_DAYS)).isoformat()


def _doc(entry: Entry) -> dict[str, Any]:
    return {
        "chat": entry.chat_id,
        "date": entry.local_date.isoformat(),
        "status": entry.status,
        "at": entry.at.isoformat(),
        **({"parts": entry.parts} if entry.parts else {}),
    }


def _entry(doc: dict[str, Any]) -> Entry:
    return Entry(
        int(doc["chat"]),
        dt.date.fromisoformat(doc["date"]),
        str(doc["status"]),
        dt.datetime.fromisoformat(doc["at"]),
        int(doc.get("parts", 0)),
    )
