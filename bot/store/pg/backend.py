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

Several replicas may share one database: each commit numbers its changes in ``changes`` and
NOTIFYs the highest number; every backend listens, fetches what the others committed since
the last number it saw, and hands it to the thread that owns the stores (``apply_remote``),
which applies it to the tables and tells the stores (``PgTables.observe``). See
docs/STORAGE.md for the guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from bot.store.bulk import paused_collector
from bot.store.journal import Doc, Keep, KeyOf
from bot.store.pg.follow import Batch, Follower, Key, Loaded, current_number, number_changes, prune
from bot.store.pg.migrate import Migration, migrate
from bot.store.tables import Observer

log = logging.getLogger(__name__)
T = TypeVar("T")
SPILL_FILE = "postgres-unsent.journal"
_BATCH = 5000  # changes per transaction at most
_UPSERT = (
    "INSERT INTO documents (namespace, tbl, key, doc) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (namespace, tbl, key) DO UPDATE SET doc = EXCLUDED.doc, updated_at = now()"
)
_DELETE = "DELETE FROM documents WHERE namespace = %s AND tbl = %s AND key = %s"
_LOAD_ROWS = 20_000  # documents per chunk when loading a table
# A chunk of a table as one JSON object, key to document, in key order (the primary key's).
_LOAD_CHUNK = (
    "SELECT max(key), json_object_agg(key, doc)::text FROM (SELECT key, doc FROM documents "
    "WHERE namespace = %s AND tbl = %s AND key > %s ORDER BY key LIMIT %s) chunk"
)


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
        follow: bool = True,
        poll: float = 5.0,
        keep_changes: float = 86_400.0,
    ) -> None:
        """``follow``: listen for the other replicas' writes (off for one-shot commands);
        ``keep_changes``: seconds the numbered changes are kept for replicas to catch up."""
        self.target = describe(url)
        # Who wrote a change: a listener skips its own process's.
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._follow = follow
        self._poll = poll
        self._keep_changes = keep_changes
        self._follower: Follower | None = None
        self._pruner: asyncio.Task[None] | None = None
        # Keys with changes not yet committed, and the number our latest commit gave each key
        # (forgotten once the follower has passed it): another replica's change to such a key
        # is older than ours, and applying it would bring back what we overwrote.
        self._unsent: dict[Key, int] = {}
        self._own: dict[Key, int] = {}
        self._own_log: deque[tuple[int, list[Key]]] = deque()
        self._open: dict[str, PgTables] = {}
        # Namespaces being loaded: followed already, so no fetch can pass over their changes
        # between the load's snapshot and their arrival in ``_open``.
        self._opening: dict[str, list[str]] = {}
        self._inbox: deque[Batch] = deque()
        self._on_remote: Callable[[], None] | None = None
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
        if self._follow:
            async with self._pool.connection() as conn, conn.cursor() as cur:
                seen = await current_number(cur)
            self._follower = Follower(
                self._url,
                self._pool,
                origin=self.origin,
                seen=seen,
                namespaces=self._followed,
                reload=self._reload,
                deliver=self._deliver,
                poll=self._poll,
            )
            self._follower.start()
            self._pruner = asyncio.create_task(self._prune_loop(), name="pg-prune")

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
                    for group in groups:
                        for op in group:
                            if isinstance(op, Change):
                                key = (op.namespace, op.table, op.key)
                                left = self._unsent[key] - 1
                                if left:
                                    self._unsent[key] = left
                                else:
                                    del self._unsent[key]
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
        changed: dict[Key, None] = {}
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            pending: dict[Key, Doc | None] = {}

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
                            "DELETE FROM documents WHERE namespace = %s RETURNING tbl, key",
                            (op.namespace,),
                        )
                        for tbl, key in await cur.fetchall():
                            changed[(op.namespace, tbl, key)] = None
                    else:
                        key = (op.namespace, op.table, op.key)
                        pending[key] = op.doc
                        changed[key] = None
            await flush()
            number = await number_changes(cur, self.origin, list(changed))
        if self._follow and number:
            with self._cond:
                keys = list(changed)
                for key in keys:
                    self._own[key] = number
                self._own_log.append((number, keys))

    async def _wait_committed(self, target: int) -> None:
        async with self._committed:
            await self._committed.wait_for(lambda: self._done >= target)

    async def _load(self, namespace: str, tables: Iterable[str]) -> tuple[Loaded, int]:
        """The namespace's tables, and the number of the last change they include."""
        assert self._pool is not None
        loaded: Loaded = {}
        # Millions of new dicts would set off the cyclic collector over and over (each pass
        # walks everything loaded so far): documents hold no cycles, so it waits till the end.
        with paused_collector():
            async with self._pool.connection() as conn, conn.transaction():
                # One snapshot for the documents and the number: a change numbered above it is
                # one the load does not hold, and the follower's to apply.
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                async with conn.cursor() as cur:
                    number = await current_number(cur)
                for table in tables:
                    loaded[table] = await _load_table(conn, namespace, table)
        return loaded, number

    async def _reload(self, namespace: str) -> tuple[Loaded, int]:
        tables = self._open.get(namespace)
        named = tables.tables_named() if tables else self._opening.get(namespace, ())
        return await self._load(namespace, named)

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
            for op in group:
                if isinstance(op, Change):
                    key = (op.namespace, op.table, op.key)
                    self._unsent[key] = self._unsent.get(key, 0) + 1
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
        self._opening[name] = list(keys)
        try:
            # The writer may still hold changes to this set (a reopen): they are the newest.
            self.settle()
            loaded, number = self._call(self._load(name, keys))
            tables = PgTables(self, name, loaded, keep, loaded_at=number)
            self._open[name] = tables
        finally:
            self._opening.pop(name, None)
        return tables

    def _followed(self) -> list[str]:
        return sorted(self._open.keys() | self._opening)

    def _closed_tables(self, tables: PgTables) -> None:
        if self._open.get(tables.namespace) is tables:
            del self._open[tables.namespace]

    # ---- other replicas' changes -----------------------------------------------------------

    def on_remote(self, wake: Callable[[], None] | None) -> None:
        """Call ``wake`` (from the backend's thread) when other replicas' changes wait: it
        must get ``apply_remote`` called on the thread that owns the stores (the bot passes
        its event loop's call_soon_threadsafe). Without it, they wait for apply_remote."""
        self._on_remote = wake
        if wake is not None and self._inbox:
            wake()

    def _deliver(self, batch: Batch) -> None:
        self._inbox.append(batch)
        wake = self._on_remote
        if wake is not None:
            wake()

    @property
    def seen(self) -> int:
        """The number of the last change handed over by the follower (0 when not following)."""
        return self._follower.seen if self._follower is not None else 0

    @property
    def following(self) -> bool:
        """Whether the follower's LISTEN connection is up now."""
        return self._follower is not None and self._follower.listening

    def apply_remote(self) -> int:
        """Apply the other replicas' changes fetched so far to the open tables and tell their
        observers; the number of documents changed. Call it on the stores' thread only.

        A change is skipped when memory holds a newer one: a write of ours still queued or
        committed under a higher number, or a load that already included it.
        """
        applied = 0
        while self._inbox:
            batch = self._inbox.popleft()
            changes: dict[str, dict[str, dict[str, Doc | None]]] = {}
            with self._cond:
                for number, namespace, table, key, doc in batch.rows:
                    tables = self._open.get(namespace)
                    if tables is None or number <= tables.loaded_at:
                        continue
                    k = (namespace, table, key)
                    if k in self._unsent or self._own.get(k, 0) >= number:
                        continue
                    changes.setdefault(namespace, {}).setdefault(table, {})[key] = doc
                for namespace, loaded in batch.reloaded.items():
                    tables = self._open.get(namespace)
                    # A load of its own (opened meanwhile) may be newer than this reload.
                    if tables is not None and tables.loaded_at < batch.upto:
                        diff = tables.differences(loaded)
                        for table, docs in diff.items():
                            for key in list(docs):
                                if (namespace, table, key) in self._unsent or (
                                    self._own.get((namespace, table, key), 0) > batch.upto
                                ):
                                    del docs[key]
                        changes.setdefault(namespace, {}).update(diff)
                # Changes numbered up to here are all handed over: ours need no guard now.
                while self._own_log and self._own_log[0][0] <= batch.upto:
                    number, keys = self._own_log.popleft()
                    for k in keys:
                        if self._own.get(k) == number:
                            del self._own[k]
            for namespace, tables_changes in changes.items():
                tables = self._open.get(namespace)
                if tables is not None:
                    applied += tables.apply(tables_changes)
        return applied

    async def fresh(self, within: float = 0.25) -> bool:
        """Apply every change other replicas committed before this call; call it on the
        stores' thread, in its event loop. One query (shared by concurrent callers). False,
        at once, when not following or the database is away, or after ``within`` seconds:
        then memory is as fresh as the notifications made it."""
        follower = self._follower
        if follower is None or not follower.listening or not self.ready:
            return False
        future = asyncio.run_coroutine_threadsafe(follower.fetched(), self._loop)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), within)
        except TimeoutError:
            future.cancel()
            return False
        self.apply_remote()
        return True

    def catch_up(self, timeout: float = 10.0) -> bool:
        """Wait until the follower has fetched every change committed so far, and apply
        them (tests, the console, a CLI command); False if time ran out."""
        if self._follower is None:
            return True
        follower = self._follower

        async def top() -> int:
            assert self._pool is not None
            async with self._pool.connection() as conn, conn.cursor() as cur:
                return await current_number(cur)

        target = self._call(top(), timeout)
        deadline = time.monotonic() + timeout
        while follower.seen < target:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        self.apply_remote()
        return True

    async def _prune_loop(self) -> None:
        assert self._pool is not None
        while True:
            await asyncio.sleep(min(600.0, max(1.0, self._keep_changes / 4)))
            try:
                await prune(self._pool, self._keep_changes)
            except psycopg.Error as exc:
                log.debug("pruning changes failed: %s", exc)

    def prune_changes(self, older_than: float) -> int:
        """Forget numbered changes older than ``older_than`` seconds now (tests)."""
        assert self._pool is not None
        return self._call(prune(self._pool, older_than))

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

    async def acknowledged(self, within: float) -> bool:
        """At once: what a reply acknowledges is in the writer's queue, which is all this backend
        promises (a kill -9 loses what it had not committed; docs/STORAGE.md). Waiting for the
        commit would hold every reply while the database is away."""
        return True

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
        if self._follower is not None:
            await self._follower.stop()
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
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


async def _load_table(
    conn: psycopg.AsyncConnection[Any], namespace: str, table: str
) -> dict[str, Doc]:
    """Every document of a table, a chunk at a time, the next chunk asked for before this one
    is decoded, so the server builds it meanwhile. A chunk is one JSON text decoded by orjson
    in one call: at a million subscriptions this takes 40 % less CPU than a row per document
    through a server-side cursor (and a third of psycopg's json.loads path; bench/pg_store.py).
    """

    async def chunk(after: str) -> tuple[str | None, str | None]:
        cur = await conn.execute(_LOAD_CHUNK, (namespace, table, after, _LOAD_ROWS))
        row = await cur.fetchone()
        return (row[0], row[1]) if row else (None, None)

    rows: dict[str, Doc] = {}
    pending = asyncio.ensure_future(chunk(""))
    try:
        while True:
            last, text = await pending
            if last is None or text is None:
                return rows
            pending = asyncio.ensure_future(chunk(last))
            # Let the next query go out before the loop is held by decoding this chunk.
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            rows.update(orjson.loads(text))
    finally:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                await pending


class PgTables:
    """One named set of tables: JournaledTables' API over PgBackend."""

    def __init__(
        self,
        backend: PgBackend,
        namespace: str,
        tables: dict[str, dict[str, Doc]],
        keep: Keep | None,
        *,
        loaded_at: int = 0,
    ) -> None:
        self._backend = backend
        self.namespace = namespace
        self._tables = tables
        self._keep = keep
        self.loaded_at = loaded_at  # the number of the last change the load included
        self._observers: list[Observer] = []

    def table(self, name: str) -> Mapping[str, Doc]:
        return self._tables[name]

    def tables_named(self) -> list[str]:
        return list(self._tables)

    def observe(self, observer: Observer) -> None:
        """Have ``observer`` told what other replicas change here, after memory holds it."""
        self._observers.append(observer)

    def differences(self, loaded: Loaded) -> dict[str, dict[str, Doc | None]]:
        """What would turn memory into ``loaded`` (a namespace read whole again)."""
        diff: dict[str, dict[str, Doc | None]] = {}
        for name, rows in self._tables.items():
            fresh = loaded.get(name, {})
            changed: dict[str, Doc | None] = {k: None for k in rows if k not in fresh}
            changed |= {k: doc for k, doc in fresh.items() if rows.get(k) != doc}
            if changed:
                diff[name] = changed
        return diff

    def apply(self, changes: Mapping[str, Mapping[str, Doc | None]]) -> int:
        """Another replica's changes, already committed: into memory, then to the observers."""
        count = 0
        for table, docs in changes.items():
            rows = self._tables.get(table)
            if rows is None:
                continue
            for key, doc in docs.items():
                if doc is None:
                    rows.pop(key, None)
                else:
                    rows[key] = doc
                count += 1
        known = {t: d for t, d in changes.items() if t in self._tables and d}
        if known:
            for observer in self._observers:
                try:
                    observer(known)
                except Exception:
                    log.exception("a store failed to take another replica's changes")
        return count

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
                group.append(Change(self.namespace, table, key, doc))
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
        try:
            self.compact()
        finally:
            self._backend._closed_tables(self)
