"""The delivery ledger: one entry per (chat id, local date), so no digest goes out twice.

TinyDB rewrites its whole file on every write (25 ms at 10,000 documents), far too slow for two
writes per digest. Entries are therefore appended to a journal first, one ``os.write`` each, and
folded into ``ledger.json`` (TinyDB, atomic) in batches. An ``os.write`` that has returned is in
the kernel's page cache, so it survives a kill -9 of this process; only a power cut can lose the
journal's tail, and ``sync`` (called after every sweep) bounds that loss.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from bot.store.atomic import AtomicJSONStorage

log = logging.getLogger(__name__)
LEDGER_FILE = "ledger.json"
JOURNAL_FILE = "ledger.journal"
# Written before a send; still there after a restart means "not known to have reached Telegram".
SENDING = "sending"
FINAL = frozenset({"sent", "skipped", "blocked"})
KEEP_DAYS = 35


@dataclass(frozen=True)
class Entry:
    chat_id: int
    local_date: dt.date
    status: str
    at: dt.datetime
    parts: int = 0  # messages of a "sending" delivery that Telegram has accepted


class Ledger:
    def __init__(self, data_dir: Path, compact_every: int = 1000, name: str = "ledger") -> None:
        # Digests use ledger.json; each broadcast gets its own pair of files.
        self._db = TinyDB(data_dir / f"{name}.json", storage=AtomicJSONStorage)
        self._journal = data_dir / f"{name}.journal"
        self._compact_every = compact_every
        self._entries: dict[tuple[int, str], Entry] = {}
        self._last_sent: dict[int, dt.datetime] = {}
        stored = (self._db.storage.read() or {}).get("deliveries", {})
        for doc in stored.values():
            self._remember(_entry(doc))
        self._replay()
        self._fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._unfolded = 0

    def _replay(self) -> None:
        try:
            lines = self._journal.read_bytes().splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                self._remember(_entry(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                # Only a power cut can tear the last line; everything before it is sound.
                log.warning("ignoring a torn line at the end of the delivery journal")

    def _remember(self, entry: Entry) -> None:
        self._entries[(entry.chat_id, entry.local_date.isoformat())] = entry
        if entry.status == "sent":
            last = self._last_sent.get(entry.chat_id)
            if last is None or entry.at > last:
                self._last_sent[entry.chat_id] = entry.at

    def status(self, chat_id: int, local_date: dt.date) -> str | None:
        entry = self._entries.get((chat_id, local_date.isoformat()))
        return None if entry is None else entry.status

    def is_final(self, chat_id: int, local_date: dt.date) -> bool:
        return self.status(chat_id, local_date) in FINAL

    def last_sent(self, chat_id: int) -> dt.datetime | None:
        return self._last_sent.get(chat_id)

    def parts_sent(self, chat_id: int, local_date: dt.date) -> int:
        """How many messages of an unfinished multi-part delivery already went out."""
        entry = self._entries.get((chat_id, local_date.isoformat()))
        return entry.parts if entry is not None and entry.status == SENDING else 0

    def record(
        self, chat_id: int, local_date: dt.date, status: str, at: dt.datetime, parts: int = 0
    ) -> None:
        entry = Entry(chat_id, local_date, status, at, parts)
        line = json.dumps(_doc(entry), separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())
        self._remember(entry)
        self._unfolded += 1
        if self._unfolded >= self._compact_every:
            self.compact()

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def sync(self) -> None:
        """Make the journal durable against power loss too (a kill -9 never needs this)."""
        os.fsync(self._fd)

    def compact(self, today: dt.date | None = None) -> None:
        """Fold the journal into ledger.json in one atomic write, then empty the journal.

        A crash between the two steps only means the journal is replayed again: replaying an
        entry that is already in ledger.json changes nothing.
        """
        horizon = (today or dt.date.today()) - dt.timedelta(days=KEEP_DAYS)
        kept = [e for e in self._entries.values() if e.local_date >= horizon]
        self._entries = {(e.chat_id, e.local_date.isoformat()): e for e in kept}
        self._db.storage.write({"deliveries": {str(i): _doc(e) for i, e in enumerate(kept, 1)}})
        os.fsync(self._fd)
        os.ftruncate(self._fd, 0)
        self._unfolded = 0

    def close(self) -> None:
        self.compact()
        os.close(self._fd)
        self._db.close()


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
