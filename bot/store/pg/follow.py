"""Following the other replicas' writes: LISTEN for commit numbers, fetch what changed.

Every commit numbers its changes in the ``changes`` table (migration 0002) under an advisory
lock, so numbers are handed out in commit order, and NOTIFYs ``<highest number> <origin>``.
The follower LISTENs on a connection of its own (reconnecting, with back-off, when the
database goes away) and, on each notification from another process, fetches the rows numbered
above the last one it saw — in one REPEATABLE READ snapshot, joined to ``documents`` for their
content as of that snapshot — and hands them over as a ``Batch``. It also fetches every
``poll`` seconds and after each reconnect, which catches up on whatever was committed while it
was not listening. A follower that fell behind what was pruned gets every open namespace
reloaded whole instead (``Batch.reloaded``).

Everything here runs on the backend's own event loop; applying a batch to the tables is the
stores' thread's business (PgBackend.apply_remote).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
from psycopg_pool import AsyncConnectionPool

from bot.store.journal import Doc

log = logging.getLogger(__name__)
CHANNEL = "partnerbrief_changes"  # NOTIFY reaches the listeners of one database only
# pg_advisory_xact_lock's key for numbering changes ("pbchange" in ASCII).
CHANGE_LOCK = 0x70626368616E6765
_FETCH_ROWS = 5000
_NUMBER = (
    "INSERT INTO changes (seq, namespace, tbl, key, origin) "
    "SELECT nextval('change_seq'), n, t, k, %s FROM unnest(%s::text[], %s::text[], %s::text[]) "
    "AS u(n, t, k) RETURNING seq"
)
_FETCH = (
    "SELECT c.seq, c.namespace, c.tbl, c.key, d.doc::text FROM changes c "
    "LEFT JOIN documents d ON d.namespace = c.namespace AND d.tbl = c.tbl AND d.key = c.key "
    "WHERE c.seq > %s AND c.seq <= %s AND c.origin <> %s AND c.namespace = ANY(%s) "
    "ORDER BY c.seq LIMIT %s"
)

Key = tuple[str, str, str]  # namespace, table, key
Row = tuple[int, str, str, str, Doc | None]  # number, namespace, table, key, doc (None: gone)
Loaded = dict[str, dict[str, Doc]]


@dataclass(frozen=True)
class Batch:
    """What other processes committed up to number ``upto``, in commit order."""

    upto: int
    rows: Sequence[Row] = ()
    # Namespaces read whole (the follower missed pruned changes): replace what memory holds.
    reloaded: dict[str, Loaded] = field(default_factory=dict)


async def number_changes(cur: psycopg.AsyncCursor[Any], origin: str, keys: Sequence[Key]) -> int:
    """Number a transaction's changed keys and announce them; the highest number (0: none).

    Called inside the writing transaction: the lock is held until it commits, so no other
    writer can take a number until this transaction's numbers are visible.
    """
    if not keys:
        return 0
    await cur.execute("SELECT pg_advisory_xact_lock(%s)", (CHANGE_LOCK,))
    await cur.execute(
        _NUMBER,
        (origin, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]),
    )
    top = max(int(row[0]) for row in await cur.fetchall())
    await cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{top} {origin}"))
    return top


async def current_number(cur: psycopg.AsyncCursor[Any]) -> int:
    await cur.execute("SELECT coalesce(max(seq), 0) FROM changes")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def prune(pool: AsyncConnectionPool[Any], older_than: float) -> int:
    """Forget changes older than ``older_than`` seconds (always keeping the newest, whose
    number a starting replica reads); the number below which changes are gone."""
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await cur.execute(
            "SELECT seq FROM changes WHERE at >= now() - make_interval(secs => %s) "
            "ORDER BY seq LIMIT 1",
            (older_than,),
        )
        row = await cur.fetchone()
        if row is None:
            await cur.execute("SELECT max(seq) FROM changes")
            row = await cur.fetchone()
        if row is None or row[0] is None:
            return 0
        cut = int(row[0])
        await cur.execute("DELETE FROM changes WHERE seq < %s", (cut,))
        await cur.execute("UPDATE changes_pruned SET upto = greatest(upto, %s)", (cut - 1,))
        return cut - 1


class Follower:
    def __init__(
        self,
        url: str,
        pool: AsyncConnectionPool[Any],
        *,
        origin: str,
        seen: int,
        namespaces: Callable[[], list[str]],
        reload: Callable[[str], Awaitable[tuple[Loaded, int]]],
        deliver: Callable[[Batch], None],
        poll: float = 5.0,
    ) -> None:
        self._url = url
        self._pool = pool
        self._origin = origin
        self.seen = seen  # every change numbered up to here has been handed over
        self._namespaces = namespaces
        self._reload = reload
        self._deliver = deliver
        self._poll = poll
        self._noted = 0  # the highest number notified so far
        self._remote_noted = False
        self._must_fetch = True
        self._wake = asyncio.Event()
        self.listening = False
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="pg-listen"),
            asyncio.create_task(self._fetch_loop(), name="pg-fetch"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self) -> None:
        delay = 0.2
        warned = False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=5,
                    # A peer that vanished without closing the socket is noticed within 25 s.
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=3,
                )
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if warned:
                        log.info("listening to PostgreSQL's changes again")
                    warned, delay = False, 0.2
                    self.listening = True
                    # Whatever was committed while nobody listened is fetched now.
                    self._must_fetch = True
                    self._wake.set()
                    async for note in conn.notifies():
                        number, _, origin = note.payload.partition(" ")
                        with contextlib.suppress(ValueError):
                            self._noted = max(self._noted, int(number))
                        if origin != self._origin:
                            self._remote_noted = True
                        self._wake.set()
            except (psycopg.Error, OSError) as exc:
                self.listening = False
                if not warned:
                    log.warning("not listening to PostgreSQL's changes (%s): retrying", _why(exc))
                    warned = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _fetch_loop(self) -> None:
        while True:
            polled = False
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll)
            except TimeoutError:
                polled = True
            self._wake.clear()
            noted, remote = self._noted, self._remote_noted
            self._remote_noted = False
            if not (remote or polled or self._must_fetch):
                # Only our own commits were announced. Notifications come in commit order and
                # each other one led to a fetch after it committed: nothing below is unseen.
                if noted > self.seen:
                    self.seen = noted
                    self._deliver(Batch(noted))
                continue
            must = self._must_fetch
            self._must_fetch = False
            try:
                await self.fetch()
            except (psycopg.Error, OSError) as exc:
                log.debug("fetching changes failed (%s): retrying", _why(exc))
                self._must_fetch = self._must_fetch or must or remote
                await asyncio.sleep(0.5)
                self._wake.set()

    async def fetch(self) -> None:
        """Hand over everything numbered above ``seen`` (fetching it whole if pruned)."""
        namespaces = self._namespaces()
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            top = await current_number(cur)
            await cur.execute("SELECT upto FROM changes_pruned")
            pruned_row = await cur.fetchone()
            pruned = int(pruned_row[0]) if pruned_row else 0
            if self.seen < pruned:
                log.warning(
                    "changes up to %d were pruned before this replica saw them (it had "
                    "seen %d): reloading %s",
                    pruned,
                    self.seen,
                    ", ".join(namespaces) or "nothing",
                )
            else:
                while top > self.seen:
                    await cur.execute(
                        _FETCH, (self.seen, top, self._origin, namespaces, _FETCH_ROWS)
                    )
                    rows = [
                        (int(seq), ns, tbl, key, None if doc is None else orjson.loads(doc))
                        for seq, ns, tbl, key, doc in await cur.fetchall()
                    ]
                    upto = rows[-1][0] if len(rows) == _FETCH_ROWS else top
                    self.seen = upto
                    self._deliver(Batch(upto, rows))
                return
        # Outside the snapshot: each namespace is read in one of its own.
        reloaded: dict[str, Loaded] = {}
        upto = top
        for namespace in namespaces:
            reloaded[namespace], at = await self._reload(namespace)
            upto = max(upto, at)
        self.seen = upto
        self._deliver(Batch(upto, reloaded=reloaded))


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__
