"""The seam between the stores and where their documents live: ``Tables`` (keyed documents,
read from memory, written through) and ``Backend`` (which opens them).

Two backends: TinyDB files in the data directory (``TinyDBBackend``, the default: one
``<name>.json`` and its journal per store, see journal.py) and PostgreSQL when DATABASE_URL is
set (bot/store/pg/). Stores are written against these two Protocols only, so a store added
on JournaledTables runs on either.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from bot.store.journal import Doc, JournaledTables, Keep, KeyOf, journal_path

# Told, per table, the documents another process changed (None: deleted), once memory holds them.
Observer = Callable[[Mapping[str, Mapping[str, Doc | None]]], None]


class Tables(Protocol):
    """Documents by table and key, held in memory; JournaledTables is one."""

    def table(self, name: str) -> Mapping[str, Doc]: ...

    def put(self, table: str, key: str, doc: Doc | None) -> None: ...

    def put_many(self, table: str, docs: Mapping[str, Doc | None]) -> None: ...

    def put_tables(
        self, changes: Mapping[str, Mapping[str, Doc | None]], *, sync: bool = True
    ) -> None:
        """Changes to several tables in one write; ``sync=False`` may skip an fsync."""
        ...

    def sync(self) -> None: ...

    def settle(self) -> None: ...

    def compact(self, keep: Keep | None = None) -> None: ...

    def close(self) -> None: ...

    def observe(self, observer: Observer) -> None:
        """Have ``observer`` told what other replicas change (called on the stores' thread):
        a store keeping a view derived from its documents updates it there."""
        ...


@runtime_checkable
class AtomicTables(Tables, Protocol):
    """Tables that can commit changes to several tables at once (PostgreSQL's)."""

    def put_tables(
        self, changes: Mapping[str, Mapping[str, Doc | None]], *, sync: bool = True
    ) -> None: ...


class Backend(Protocol):
    """Opens the named sets of tables a store keeps (``users``, ``ledger``, ``newsroom``…)."""

    @property
    def kind(self) -> str:
        """``tinydb`` or ``postgresql``."""
        ...

    def open_tables(
        self,
        name: str,
        keys: Mapping[str, KeyOf],
        *,
        compact_every: int = 1000,
        durable: bool = True,
        keep: Keep | None = None,
    ) -> Tables: ...

    def remove(self, name: str) -> None:
        """Forget every document of a closed set (a finished broadcast's ledger)."""
        ...

    def names(self, prefix: str) -> list[str]:
        """The sets whose name starts with ``prefix``."""
        ...

    @property
    def ready(self) -> bool:
        """Whether a write made now would reach durable storage without waiting."""
        ...

    async def written(self, within: float) -> bool:
        """Wait until every change made so far is durable; False if ``within`` seconds ran out."""
        ...

    async def acknowledged(self, within: float) -> bool:
        """Wait until every change made so far is as safe as docs/STORAGE.md says a change is
        once the bot has replied about it (the bot's requests to Telegram wait for this):
        fsynced on TinyDB; on PostgreSQL, in the writer's queue, which it is at once."""
        ...


class TinyDBBackend:
    """The embedded default: the data directory's files, owned by one process (lock.py)."""

    kind = "tinydb"
    ready = True

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        # Those opened and not yet closed (and collected): what written() waits for.
        self._opened: weakref.WeakSet[JournaledTables] = weakref.WeakSet()

    def open_tables(
        self,
        name: str,
        keys: Mapping[str, KeyOf],
        *,
        compact_every: int = 1000,
        durable: bool = True,
        keep: Keep | None = None,
    ) -> JournaledTables:
        tables = JournaledTables(
            self.data_dir / f"{name}.json",
            keys,
            compact_every=compact_every,
            durable=durable,
            keep=keep,
        )
        self._opened.add(tables)
        return tables

    def remove(self, name: str) -> None:
        path = self.data_dir / f"{name}.json"
        for leftover in (path, journal_path(path)):
            leftover.unlink(missing_ok=True)

    def names(self, prefix: str) -> list[str]:
        return sorted(path.stem for path in self.data_dir.glob(prefix + "*.json"))

    async def written(self, within: float) -> bool:
        """A journaled change is written before put() returns; this waits for the fsyncs of
        durable journals (journal.py's syncer thread)."""
        deadline = time.monotonic() + within
        for tables in list(self._opened):
            if not await tables.written(max(0.0, deadline - time.monotonic())):
                return False
        return True

    async def acknowledged(self, within: float) -> bool:
        return await self.written(within)


def backend_of(where: Path | Backend) -> Backend:
    """A store given a data directory keeps its files there, as it always did."""
    return TinyDBBackend(where) if isinstance(where, Path) else where
