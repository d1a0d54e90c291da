"""JSON tables kept whole in memory and changed through an append-only journal.

TinyDB rewrites its whole file on every write: 30 ms at 10,000 documents and 400 ms at 100,000
(measured), during which the bot's event loop waits. Here a change is one line appended to
``<name>.journal`` with one ``os.write`` (once it returns, the line survives a kill -9 of the
process; with ``durable`` each change is also fsynced, 0.13 ms here, so it survives a power cut),
and the tables are folded into the file (TinyDB's format, written atomically by
AtomicJSONStorage) every ``compact_every`` changes and at close. Opening reads the file and
replays the journal over it. A kill -9 or a power cut in the middle of a write can leave a torn
last line, a change that was never acknowledged: it is skipped, and cut off so that the next
change starts a line of its own.

Each managed table is keyed by what identifies its documents (``keys``), so a change replaces
the document with that key. The file itself keeps TinyDB's layout, numbered document ids.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bot.store.atomic import AtomicJSONStorage

log = logging.getLogger(__name__)
Doc = dict[str, Any]
KeyOf = Callable[[Doc], str]
# Whether a document of a table is still worth keeping when the journal is folded.
Keep = Callable[[str, Doc], bool]


def journal_path(path: Path) -> Path:
    return path.with_suffix(".journal")


def journal_line(table: str, key: str, doc: Doc | None) -> str:
    """One change as the journal holds it; a None document removes the key."""
    return json.dumps({"t": table, "k": key, "d": doc}, separators=(",", ":")) + "\n"


def read_journal(journal: Path) -> Iterator[tuple[str, str, Doc | None]]:
    """(table, key, document) for each change in the journal, in order. A torn or unreadable
    line is skipped, so this is safe to call while a writer appends."""
    try:
        lines = journal.read_bytes().splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        try:
            change = json.loads(line)
            table, key, doc = str(change["t"]), str(change["k"]), change["d"]
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a torn line in %s", journal.name)
            continue
        yield table, key, doc


def load_tables(path: Path, keys: Mapping[str, KeyOf]) -> dict[str, dict[str, Doc]]:
    """The tables as the file and its journal hold them, without opening them for writing."""
    storage = AtomicJSONStorage(path)
    try:
        return _load(storage, journal_path(path), keys)[0]
    finally:
        storage.close()


def _load(
    storage: AtomicJSONStorage, journal: Path, keys: Mapping[str, KeyOf]
) -> tuple[dict[str, dict[str, Doc]], dict[str, Any]]:
    """(managed tables, every other table of the file, kept as they are)."""
    stored = dict(storage.read() or {})
    tables = {
        name: {key_of(doc): doc for doc in stored.pop(name, {}).values()}
        for name, key_of in keys.items()
    }
    for name, key, doc in read_journal(journal):
        table = tables.get(name)
        if table is None:
            log.warning("ignoring a change to unknown table %r in %s", name, journal.name)
            continue
        if doc is None:
            table.pop(key, None)
        else:
            table[key] = doc
    return tables, stored


class JournaledTables:
    def __init__(
        self,
        path: Path,
        keys: Mapping[str, KeyOf],
        *,
        compact_every: int = 1000,
        durable: bool = True,
        keep: Keep | None = None,
    ) -> None:
        self._storage = AtomicJSONStorage(path)
        self._journal = journal_path(path)
        self._compact_every = compact_every
        self._durable = durable
        self._keep = keep
        self._tables, self._others = _load(self._storage, self._journal, keys)
        _cut_torn_tail(self._journal)
        self._fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._unfolded = 0
        self._torn = False  # a failed write left part of a line that could not be taken back

    def table(self, name: str) -> Mapping[str, Doc]:
        """The documents of a table by key; change them only through put()."""
        return self._tables[name]

    def put(self, table: str, key: str, doc: Doc | None) -> None:
        """Store ``doc`` under ``key`` (None removes it), in the journal before in memory."""
        self.put_many(table, {key: doc})

    def put_many(self, table: str, docs: Mapping[str, Doc | None]) -> None:
        """Several changes with one write (and one fsync)."""
        if not docs:
            return
        lines = "".join(journal_line(table, key, doc) for key, doc in docs.items())
        self._append(lines.encode())
        rows = self._tables[table]
        for key, doc in docs.items():
            if doc is None:
                rows.pop(key, None)
            else:
                rows[key] = doc
        self._unfolded += len(docs)
        if self._unfolded >= self._compact_every:
            try:
                self.compact()
            except OSError:
                # The changes are safe in the journal; folding is tried again later.
                log.exception("folding %s into its file failed", self._journal.name)
                self._unfolded = 0

    def _append(self, data: bytes) -> None:
        """Writes (and with ``durable`` fsyncs) all of ``data``, or none of it: a change the
        caller is told failed must not come back at the next start, and a partial line must
        not swallow the next change."""
        if self._torn:
            data = b"\n" + data  # ends the torn line: replay skips it as unreadable
        start = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            if self._durable:
                os.fsync(self._fd)
        except OSError:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                self._torn = True
            raise
        self._torn = False

    def sync(self) -> None:
        """Make the journal durable against power loss too (a kill -9 never needs this)."""
        os.fsync(self._fd)

    def compact(self, keep: Keep | None = None) -> None:
        """Fold the journal into the file in one atomic write, then empty the journal; documents
        ``keep`` (by default the one given at opening) turns down are dropped.

        A crash between the two steps only means the journal is replayed again: replaying a
        change that is already in the file changes nothing.
        """
        keep = keep or self._keep
        if keep is not None:
            for name, rows in self._tables.items():
                for key in [k for k, doc in rows.items() if not keep(name, doc)]:
                    del rows[key]
        numbered = {
            name: {str(i): doc for i, doc in enumerate(rows.values(), 1)}
            for name, rows in self._tables.items()
        }
        self._storage.write({**self._others, **numbered})
        os.fsync(self._fd)
        os.ftruncate(self._fd, 0)
        self._unfolded = 0

    def close(self) -> None:
        self.compact()
        os.close(self._fd)
        self._storage.close()


def _cut_torn_tail(journal: Path) -> None:
    try:
        data = journal.read_bytes()
    except FileNotFoundError:
        return
    end = data.rfind(b"\n") + 1
    if end != len(data):
        os.truncate(journal, end)
