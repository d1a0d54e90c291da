"""PostgreSQL behind the stores' synchronous, in-memory API.

Each named set of tables (``users``, ``ledger``…) is loaded whole at open, as a data
directory's files are; reads never touch the database. A write changes memory at once and is
handed, in order, to one writer task that commits what is queued in one transaction. The
writer lives on an event loop of its own, in a thread of its own, over psycopg's
AsyncConnectionPool: the stores stay synchronous (handlers call them, and so do the console
and the CLI, which have no running loop), and a slow or absent database never stalls the
bot's loop.

While the database is away the writer keeps the changes and retries (nothing is lost while
the process lives) and ``ready`` is False: the digest sweep waits for it instead of sending
what it could not record. Changes still unwritten at close go to a spill file in the data
directory, written to the database first at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from bot.store.journal import Doc, Keep, KeyOf
from bot.store.pg.migrate import Migration, migrate

log = logging.getLogger(__name__)
T = TypeVar("T")
SPILL_FILE = "postgres-unsent.journal"
_BATCH = 5000  # changes per transaction at most
_UPSERT = (
    "INSERT INTO documents (namespace, tbl, key, doc) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (namespace, tbl, key) DO UPDATE SET doc = EXCLUDED.doc, updated_at = now()"
)
_DELETE = "DELETE FROM documents WHERE namespace = %s AND tbl = %s AND key = %s"


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached at start-up."""


@dataclass(frozen=True)
class Change:
    namespace: str
    table: str
    key: str
    doc: Doc | None  # None removes the key


@dataclass(frozen=True)
class DropNamespace:
    namespace: str


Op = Change | DropNamespace


def describe(url: str) -> str:
    """Where a URL points, without its password: ``user@host:port/dbname``."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(an unreadable DATABASE_URL)"
    host = parts.get("host") or "localhost"
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"{user}{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


def _dumps(doc: Doc) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


class PgBackend:
    kind = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        spill_dir: Path | None = None,
        connect_timeout: float = 10.0,
        settle_timeout: float = 30.0,
        migrations: Iterable[Migration] | None = None,
        pool_size: int = 4,
    ) -> None:
        self.target = describe(url)
        self._url = url
        self._spill = spill_dir / SPILL_FILE if spill_dir is not None else None
        self._settle_timeout = settle_timeout
        self._outbox: deque[list[Op]] = deque()
        self._inflight: list[list[Op]] = []
        self._cond = threading.Condition()
        self._queued = 0  # groups handed to the writer, and groups it has committed
        self._done = 0
        self._wake_pending = False
        self._online = True
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="pg-store", daemon=True
        )
        self._thread.start()
        self._wake = asyncio.Event()
        self._committed = asyncio.Condition()
        self._writer: asyncio.Task[None] | None = None
        self._pool: AsyncConnectionPool[Any] | None = None
        try:
            self._call(self._start(connect_timeout, migrations, pool_size))
        except BaseException:
            self._stop_loop()
            raise

    # ---- the store thread's side -----------------------------------------------------------

    def _call(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        async def run() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    async def _start(
        self, connect_timeout: float, migrations: Iterable[Migration] | None, pool_size: int
    ) -> None:
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._url, connect_timeout=max(1, round(connect_timeout)), autocommit=True
            )
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise DatabaseUnavailable(
                f"cannot reach PostgreSQL at {self.target}: {reason}"
            ) from None
        async with conn:
            await migrate(conn, None if migrations is None else tuple(migrations))
        self._pool = AsyncConnectionPool(
            self._url,
            min_size=1,
            max_size=pool_size,
            open=False,
            kwargs={"autocommit": True},
            check=AsyncConnectionPool.check_connection,
            timeout=5.0,
            name="partnerbrief",
        )
        await self._pool.open(wait=True, timeout=connect_timeout)
        await self._replay_spill()
        self._writer = asyncio.create_task(self._write_loop(), name="pg-writer")

    async def _replay_spill(self) -> None:
        if self._spill is None or not self._spill.exists():
            return
        ops: list[Op] = []
        for line in self._spill.read_bytes().splitlines():
            try:
                raw = json.loads(line)
                ops.append(Change(str(raw["n"]), str(raw["t"]), str(raw["k"]), raw["d"]))
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a torn line in %s", self._spill.name)
        await self._commit([ops])
        self._spill.unlink()
        log.info("wrote %d changes left unsent by the previous run", len(ops))

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                with self._cond:
                    self._wake_pending = False
                    groups: list[list[Op]] = []
                    size = 0
                    while self._outbox and size < _BATCH:
                        group = self._outbox.popleft()
                        groups.append(group)
                        size += len(group)
                    self._inflight = groups
                if not groups:
                    break
                await self._commit_until_done(groups)
                with self._cond:
                    self._inflight = []
                    self._done += len(groups)
                    self._cond.notify_all()
                async with self._committed:
                    self._committed.notify_all()

    async def _commit_until_done(self, groups: list[list[Op]]) -> None:
        delay = 0.2
        while True:
            try:
                try:
                    await self._commit(groups)
                except psycopg.DataError:
                    # Refused for what it holds, not for where the database is: no retry helps.
                    log.exception("PostgreSQL refused a write; its changes go one group at a time")
                    await self._commit_each(groups)
            except Exception as exc:
                # Unreachable, restarting, or misconfigured (a table dropped by hand): the
                # changes wait in memory, and the writer tries again.
                if self._online:
                    log.warning(
                        "PostgreSQL at %s is unreachable (%s): changes wait in memory",
                        self.target,
                        str(exc).strip().splitlines()[-1] if str(exc).strip() else exc,
                    )
                    self._online = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if not self._online:
                log.info("PostgreSQL at %s is back: queued changes written", self.target)
                self._online = True
            return

    async def _commit_each(self, groups: list[list[Op]]) -> None:
        for group in groups:
            try:
                await self._commit([group])
            except psycopg.DataError:
                log.exception("dropping a change PostgreSQL refuses: %s", group[:1])

    async def _commit(self, groups: list[list[Op]]) -> None:
        assert self._pool is not None
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            pending: dict[tuple[str, str, str], Doc | None] = {}

            async def flush() -> None:
                upserts = [(*k, Jsonb(d, _dumps)) for k, d in pending.items() if d is not None]
                deletes = [k for k, d in pending.items() if d is None]
                if upserts:
                    await cur.executemany(_UPSERT, upserts)
                if deletes:
                    await cur.executemany(_DELETE, deletes)
                pending.clear()

            for group in groups:
                for op in group:
                    if isinstance(op, DropNamespace):
                        await flush()
                        await cur.execute(
                            "DELETE FROM documents WHERE namespace = %s", (op.namespace,)
                        )
                    else:
                        pending[(op.namespace, op.table, op.key)] = op.doc
            await flush()

    async def _wait_committed(self, target: int) -> None:
        async with self._committed:
            await self._committed.wait_for(lambda: self._done >= target)

    async def _load(self, namespace: str, tables: Iterable[str]) -> dict[str, dict[str, Doc]]:
        assert self._pool is not None
        loaded: dict[str, dict[str, Doc]] = {name: {} for name in tables}
        # Millions of new dicts would set off the cyclic collector over and over (each pass
        # walks everything loaded so far): documents hold no cycles, so it waits till the end.
        collecting = gc.isenabled()
        gc.disable()
        try:
            async with self._pool.connection() as conn, conn.cursor() as cur:
                # doc as text, decoded here: psycopg's jsonb loader is the same json.loads.
                await cur.execute(
                    "SELECT tbl, key, doc::text FROM documents WHERE namespace = %s",
                    (namespace,),
                )
                loads = json.loads
                while batch := await cur.fetchmany(50_000):
                    for tbl, key, text in batch:
                        rows = loaded.get(tbl)
                        if rows is not None:
                            rows[key] = loads(text)
        finally:
            if collecting:
                gc.enable()
        return loaded

    async def _names(self, prefix: str) -> list[str]:
        assert self._pool is not None
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT DISTINCT namespace FROM documents WHERE starts_with(namespace, %s)",
                (prefix,),
            )
            return sorted(str(row[0]) for row in await cur.fetchall())

    async def _ping(self) -> None:
        assert self._pool is not None
        async with self._pool.connection(timeout=3) as conn:
            await conn.execute("SELECT 1")

    # ---- the callers' side -----------------------------------------------------------------

    def enqueue(self, group: list[Op]) -> None:
        """Hand changes to the writer, in order; they are committed together."""
        if not group:
            return
        if self._closed:
            raise RuntimeError("the PostgreSQL store is closed")
        with self._cond:
            self._outbox.append(group)
            self._queued += 1
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            self._loop.call_soon_threadsafe(self._wake.set)

    def open_tables(
        self,
        name: str,
        keys: Mapping[str, KeyOf],
        *,
        compact_every: int = 1000,
        durable: bool = True,
        keep: Keep | None = None,
    ) -> PgTables:
        # The writer may still hold changes to this set (a reopen): they are the newest.
        self.settle()
        return PgTables(self, name, self._call(self._load(name, keys)), keep)

    def remove(self, name: str) -> None:
        self.enqueue([DropNamespace(name)])

    def names(self, prefix: str) -> list[str]:
        self.settle()
        return self._call(self._names(prefix))

    @property
    def ready(self) -> bool:
        return self._online and not self._closed

    @property
    def unwritten(self) -> int:
        """Groups of changes not yet committed."""
        with self._cond:
            return self._queued - self._done

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until everything handed over so far is committed; False if time ran out."""
        limit = self._settle_timeout if timeout is None else timeout
        with self._cond:
            target = self._queued
            return self._cond.wait_for(lambda: self._done >= target, limit)

    async def written(self, within: float) -> bool:
        with self._cond:
            target = self._queued
            if self._done >= target:
                return True
        future = asyncio.run_coroutine_threadsafe(self._wait_committed(target), self._loop)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), within)
        except TimeoutError:
            future.cancel()
            return False
        return True

    async def ping(self, within: float = 3.0) -> str | None:
        """None when the database answers now, else why not (for /readyz)."""
        future = asyncio.run_coroutine_threadsafe(self._ping(), self._loop)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), within)
        except (TimeoutError, psycopg.Error) as exc:
            future.cancel()
            return f"PostgreSQL at {self.target} does not answer ({type(exc).__name__})"
        return None

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (waiting up to ``timeout``), spill the rest, stop."""
        if self._closed:
            return
        self.settle(timeout)
        self._closed = True
        try:
            self._call(self._shutdown(), timeout + 5)
        finally:
            self._stop_loop()

    async def _shutdown(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        with self._cond:
            left = [op for group in (*self._inflight, *self._outbox) for op in group]
            self._outbox.clear()
        if left:
            self._spill_out(left)
        if self._pool is not None:
            await self._pool.close(timeout=2)

    def _spill_out(self, ops: list[Op]) -> None:
        changes = [op for op in ops if isinstance(op, Change)]
        if self._spill is None:
            log.error("PostgreSQL is away: %d changes are lost at exit", len(changes))
            return
        self._spill.parent.mkdir(parents=True, exist_ok=True)
        with self._spill.open("ab") as out:
            for c in changes:
                line = {"n": c.namespace, "t": c.table, "k": c.key, "d": c.doc}
                out.write((json.dumps(line, separators=(",", ":")) + "\n").encode())
            out.flush()
            os.fsync(out.fileno())
        log.error(
            "PostgreSQL is away: %d changes saved in %s, written at the next start",
            len(changes),
            self._spill,
        )

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()


class PgTables:
    """One named set of tables: JournaledTables' API over PgBackend."""

    def __init__(
        self,
        backend: PgBackend,
        namespace: str,
        tables: dict[str, dict[str, Doc]],
        keep: Keep | None,
    ) -> None:
        self._backend = backend
        self._namespace = namespace
        self._tables = tables
        self._keep = keep

    def table(self, name: str) -> Mapping[str, Doc]:
        return self._tables[name]

    def put(self, table: str, key: str, doc: Doc | None) -> None:
        self.put_many(table, {key: doc})

    def put_many(self, table: str, docs: Mapping[str, Doc | None]) -> None:
        self.put_tables({table: docs})

    def put_tables(
        self, changes: Mapping[str, Mapping[str, Doc | None]], *, sync: bool = True
    ) -> None:
        """Changes to several tables, committed in one transaction (``sync`` is the journal's
        fsync choice; a commit here is always durable)."""
        group: list[Op] = []
        for table, docs in changes.items():
            rows = self._tables[table]
            for key, doc in docs.items():
                group.append(Change(self._namespace, table, key, doc))
                if doc is None:
                    rows.pop(key, None)
                else:
                    rows[key] = doc
        self._backend.enqueue(group)

    def sync(self) -> None:
        """Nothing to do: a commit is durable (the writer's job, not the caller's)."""

    def settle(self) -> None:
        self._backend.settle()

    def compact(self, keep: Keep | None = None) -> None:
        """Delete the documents ``keep`` (by default the one given at opening) turns down."""
        keep = keep or self._keep
        if keep is None:
            return
        gone = {
            name: {k: None for k, doc in rows.items() if not keep(name, doc)}
            for name, rows in self._tables.items()
        }
        self.put_tables({name: docs for name, docs in gone.items() if docs})

    def close(self) -> None:
        self.compact()
