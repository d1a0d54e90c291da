"""JSON tables kept whole in memory and changed through an append-only journal.

TinyDB rewrites its whole file on every write: 30 ms at 10,000 documents and 400 ms at 100,000
(measured), during which the bot's event loop waits. Here a change is one line appended to
``<name>.journal`` with one ``os.write`` before ``put`` returns (once it returns, the line
survives a kill -9 of the process). With ``durable`` it is also fsynced, so that it survives a
power cut, by a thread of the journal's own (``_Syncer``): an fsync takes 1.5 ms here, 7 ms at
the 99th percentile on a busy disk (18 ms seen), which on the event loop every update waiting
there paid (cProfile of bench/soak.py: 485 fsyncs in 6,000 updates, 1.2 s of the loop's time).
Changes written while one fsync runs are covered by the next, one for all of them. ``written``
waits until every change made so far is fsynced; the bot's requests to Telegram wait for it
(bot/tg/request.py), so no reply acknowledges a change a power cut could still take back. The
tables are folded into the file (TinyDB's format, written atomically by AtomicJSONStorage) every
``compact_every`` changes and at close. Opening reads the file and replays the journal over it.

Folding rewrites the whole file (340-510 ms at 100,000 subscriptions), so the folds that
changes trigger run on a worker thread: the caller only copies the tables' indexes (a few
milliseconds) and seals the journal by renaming it to ``<name>.journal.<n>``; the worker
encodes the copy one document at a time (so the event loop keeps the GIL most of the time),
writes the file and deletes the sealed segments it covers. Opening replays the sealed
segments, in order, before the journal. Documents are never changed in place, only replaced,
so the copy needs no deep copy. A kill -9 or a power cut in the middle of a write can leave a torn
last line, a change that was never acknowledged: it is skipped, and cut off so that the next
change starts a line of its own.

Each managed table is keyed by what identifies its documents (``keys``), so a change replaces
the document with that key. The file itself keeps TinyDB's layout, numbered document ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bot.store.atomic import AtomicJSONStorage

_T = TypeVar("_T")

log = logging.getLogger(__name__)
Doc = dict[str, Any]
KeyOf = Callable[[Doc], str]
# Whether a document of a table is still worth keeping when the journal is folded.
Keep = Callable[[str, Doc], bool]


def journal_path(path: Path) -> Path:
    return path.with_suffix(".journal")


def sealed_segments(journal: Path) -> list[Path]:
    """The journal segments sealed for a fold that has not finished, oldest first."""
    found = []
    for path in journal.parent.glob(journal.name + ".*"):
        suffix = path.name.rpartition(".")[2]
        if suffix.isdigit():
            found.append((int(suffix), path))
    return [path for _, path in sorted(found)]


class _Closes(Protocol):
    def close(self) -> None: ...


_Tb = TypeVar("_Tb", bound=_Closes)


def opened_with(tables: _Tb, make: Callable[[_Tb], _T]) -> _T:
    """``make(tables)``, the tables closed if it raises (a document of the wrong shape): a
    store that fails to open leaves no file open behind it."""
    try:
        return make(tables)
    except BaseException:
        tables.close()
        raise


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
    changes = (c for path in (*sealed_segments(journal), journal) for c in read_journal(path))
    for name, key, doc in changes:
        table = tables.get(name)
        if table is None:
            log.warning("ignoring a change to unknown table %r in %s", name, journal.name)
            continue
        if doc is None:
            table.pop(key, None)
        else:
            table[key] = doc
    return tables, stored


class _Syncer:
    """fsyncs a durable journal on a thread of its own, for whatever was written since the last
    fsync, and tells waiters (threads, or coroutines on their loops) once their changes are on
    the disk."""

    def __init__(self, name: str) -> None:
        self._cond = threading.Condition()
        self._written = 0  # changes written so far, numbered
        self._synced = 0  # changes fsynced so far
        self._fds: list[int] = []  # descriptors written to since the last fsync
        self._retired: list[int] = []  # sealed journals' descriptors: closed once fsynced
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=f"fsync-{name}", daemon=True)
        self._thread.start()

    def wrote(self, fd: int) -> None:
        with self._cond:
            self._written += 1
            if fd not in self._fds:
                self._fds.append(fd)
            self._cond.notify_all()

    def retire(self, fd: int) -> None:
        """``fd`` is no longer written to: the thread closes it once what it holds is fsynced."""
        with self._cond:
            self._retired.append(fd)
            self._cond.notify_all()

    @property
    def behind(self) -> int:
        """Changes written and not fsynced yet."""
        with self._cond:
            return self._written - self._synced

    async def written(self, within: float) -> bool:
        with self._cond:
            if self._synced >= self._written:
                return True
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((self._written, asyncio.get_running_loop(), future))
        try:
            await asyncio.wait_for(asyncio.shield(future), within)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """fsync what is left, close the retired descriptors and end the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._written > self._synced or self._retired or self._closing
                )
                if self._closing and self._written == self._synced and not self._retired:
                    return
                target, fds, retired = self._written, self._fds, self._retired
                self._fds, self._retired = [], []
            failed = False
            for fd in fds:
                try:
                    os.fsync(fd)
                except OSError:
                    # The changes stay written (a kill -9 loses none); their waiters are not
                    # told they are safe, and the next change's fsync tries again.
                    log.exception("fsync of a journal failed")
                    failed = True
            for fd in retired:
                os.close(fd)
            with self._cond:
                if failed:
                    self._fds.extend(fd for fd in fds if fd not in retired and fd not in self._fds)
                else:
                    self._synced = max(self._synced, target)
                done = [w for w in self._waiters if w[0] <= self._synced]
                self._waiters = [w for w in self._waiters if w[0] > self._synced]
                self._cond.notify_all()
            for _, loop, future in done:
                with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                    loop.call_soon_threadsafe(_resolve, future)
            if failed:
                with self._cond:
                    # Not a busy loop on a failing disk: the next try waits a little.
                    self._cond.wait(0.5)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


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
        self._fd = self._open_journal()
        self._unfolded = 0
        self._torn = False  # a failed write left part of a line that could not be taken back
        sealed = sealed_segments(self._journal)
        self._next_segment = int(sealed[-1].name.rpartition(".")[2]) + 1 if sealed else 1
        self._worker: ThreadPoolExecutor | None = None
        self._syncer = _Syncer(self._journal.stem) if durable else None
        self._fold: Future[dict[str, list[tuple[str, Doc]]]] | None = None

    def _open_journal(self) -> int:
        return os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def table(self, name: str) -> Mapping[str, Doc]:
        """The documents of a table by key; change them only through put()."""
        return self._tables[name]

    def put(self, table: str, key: str, doc: Doc | None) -> None:
        """Store ``doc`` under ``key`` (None removes it), in the journal before in memory."""
        self.put_many(table, {key: doc})

    def put_many(self, table: str, docs: Mapping[str, Doc | None]) -> None:
        """Several changes with one write (and one fsync)."""
        self.put_tables({table: docs})

    def put_tables(
        self, changes: Mapping[str, Mapping[str, Doc | None]], *, sync: bool = True
    ) -> None:
        """Changes to several tables with one write (and one fsync, on the syncer's thread).
        ``sync=False`` skips the fsync of a durable journal for changes that may be lost to a
        power cut (not to a kill -9): those that can be made again, such as what a feed poll
        learnt."""
        lines = "".join(
            journal_line(table, key, doc)
            for table, docs in changes.items()
            for key, doc in docs.items()
        )
        if not lines:
            return
        self._append(lines.encode(), sync=sync)
        for table, docs in changes.items():
            rows = self._tables[table]
            for key, doc in docs.items():
                if doc is None:
                    rows.pop(key, None)
                else:
                    rows[key] = doc
            self._unfolded += len(docs)
        self._collect_fold()
        if self._unfolded >= self._compact_every and self._fold is None:
            try:
                self._start_fold()
            except OSError:
                # The changes are safe in the journal; folding is tried again later.
                log.exception("folding %s into its file failed", self._journal.name)
                self._unfolded = 0

    def _start_fold(self) -> None:
        """Seal the journal and fold a copy of the tables into the file on the worker."""
        snapshot = {name: dict(rows) for name, rows in self._tables.items()}
        others = dict(self._others)
        sealed = self._journal.with_name(f"{self._journal.name}.{self._next_segment}")
        # The copy holds every change written so far, the sealed segment exactly those: from
        # here on, changes go to a new journal. (No fsync here: a durable journal's syncer
        # fsyncs the sealed one's last changes before closing it, and a fast one keeps its
        # own policy, sync().)
        self._journal.replace(sealed)
        if self._syncer is not None:
            self._syncer.retire(self._fd)  # its last changes may not be fsynced yet
        else:
            os.close(self._fd)
        self._fd = self._open_journal()
        self._next_segment += 1
        self._unfolded = 0
        covered = sealed_segments(self._journal)
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"fold-{self._journal.stem}")
        self._fold = self._worker.submit(self._fold_copy, snapshot, others, covered)

    def _fold_copy(
        self,
        snapshot: dict[str, dict[str, Doc]],
        others: dict[str, Any],
        covered: list[Path],
    ) -> dict[str, list[tuple[str, Doc]]]:
        """On the worker: write the copy (less what ``keep`` turns down), then delete the
        sealed segments it holds. Returns the documents it dropped."""
        dropped: dict[str, list[tuple[str, Doc]]] = {}
        if self._keep is not None:
            for name, rows in snapshot.items():
                gone = [(k, doc) for k, doc in rows.items() if not self._keep(name, doc)]
                for key, _ in gone:
                    del rows[key]
                dropped[name] = gone
        self._storage.write_encoded(_encode(others, snapshot))
        for segment in covered:
            segment.unlink(missing_ok=True)
        return dropped

    def _collect_fold(self, wait: bool = False) -> None:
        """Take in a finished fold: forget what it dropped, unless changed since; a failed one
        is logged (its segments stay, and the next fold covers them too)."""
        fold = self._fold
        if fold is None or not (wait or fold.done()):
            return
        self._fold = None
        try:
            dropped = fold.result()
        except OSError:
            log.exception("folding %s into its file failed", self._journal.name)
            return
        for name, gone in dropped.items():
            rows = self._tables[name]
            for key, doc in gone:
                if rows.get(key) is doc:
                    del rows[key]

    def observe(self, observer: Callable[[Mapping[str, Mapping[str, Doc | None]]], None]) -> None:
        """Nothing to observe: the data directory has one owner (lock.py), whose writes all go
        through these tables."""

    @property
    def folding(self) -> bool:
        """Whether a fold is running on the worker."""
        return self._fold is not None and not self._fold.done()

    def settle(self) -> None:
        """Wait for a fold in progress (tests, and close)."""
        self._collect_fold(wait=True)

    def _append(self, data: bytes, *, sync: bool = True) -> None:
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
        except OSError:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                self._torn = True
            raise
        self._torn = False
        if self._syncer is not None and sync:
            self._syncer.wrote(self._fd)

    @property
    def unsynced(self) -> int:
        """Changes of a durable journal written and not fsynced yet (0 for the others)."""
        return 0 if self._syncer is None else self._syncer.behind

    async def written(self, within: float) -> bool:
        """Wait until every change made so far is fsynced (at once for a journal that is not
        durable); False if ``within`` seconds ran out."""
        return True if self._syncer is None else await self._syncer.written(within)

    def sync(self) -> None:
        """Make the journal durable against power loss too (a kill -9 never needs this)."""
        os.fsync(self._fd)

    def compact(self, keep: Keep | None = None) -> None:
        """Fold the journal into the file in one atomic write, then empty the journal; documents
        ``keep`` (by default the one given at opening) turns down are dropped.

        A crash between the two steps only means the journal is replayed again: replaying a
        change that is already in the file changes nothing.
        """
        self.settle()
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
        for segment in sealed_segments(self._journal):
            segment.unlink(missing_ok=True)
        self._unfolded = 0

    def close(self) -> None:
        try:
            self.compact()
        finally:
            if self._worker is not None:
                self._worker.shutdown(wait=True)
            if self._syncer is not None:
                self._syncer.close()
            os.close(self._fd)
            self._storage.close()


def _encode(others: Mapping[str, Any], tables: Mapping[str, Mapping[str, Doc]]) -> Iterator[bytes]:
    """The file's JSON, as AtomicJSONStorage writes it, a few hundred documents at a time: one
    json.dumps of 100,000 documents (or one join and encode of its 24 MB) would hold the GIL,
    and so the event loop, for tens to hundreds of milliseconds."""

    def dumps(value: object) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    first = True
    for name, value in others.items():
        yield (("{" if first else ",") + f"{dumps(name)}:{dumps(value)}").encode()
        first = False
    for name, rows in tables.items():
        yield (("{" if first else ",") + f"{dumps(name)}:{{").encode()
        first = False
        docs = list(rows.values())
        for start in range(0, len(docs), _DOCS_PER_CHUNK):
            piece = ",".join(
                f'"{i}":{dumps(doc)}'
                for i, doc in enumerate(docs[start : start + _DOCS_PER_CHUNK], start + 1)
            )
            yield ("," if start else "").encode() + piece.encode()
        yield b"}"
    yield b"}" if not first else b"{}"


_DOCS_PER_CHUNK = 256


def _cut_torn_tail(journal: Path) -> None:
    try:
        data = journal.read_bytes()
    except FileNotFoundError:
        return
    end = data.rfind(b"\n") + 1
    if end != len(data):
        os.truncate(journal, end)
