"""Following the other replicas' writes: LISTEN for commit numbers, fetch what changed.

Every commit numbers its changes in the ``changes`` table (migration 0003) under an advisory
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
# One round trip: the lock (joined in, so it is taken before the first number is drawn), the
# numbers, and the notification of the highest (delivered when the transaction commits).
_NUMBER = (
    "WITH locked AS (SELECT pg_advisory_xact_lock(%(lock)s)), "
    "numbered AS (INSERT INTO changes (seq, namespace, tbl, key, origin) "
    "SELECT nextval('change_seq'), n, t, k, %(origin)s "
    "FROM locked, unnest(%(ns)s::text[], %(tbl)s::text[], %(key)s::text[]) AS u(n, t, k) "
    "RETURNING seq) "
    "SELECT max(seq), pg_notify(%(channel)s, max(seq)::text || ' ' || %(origin)s) FROM numbered"
)
# One statement, so one snapshot: the highest number, what was pruned, and the changes since
# ``seen`` with their documents as of that snapshot (a row with no change: nothing new).
_FETCH = (
    "WITH top AS (SELECT coalesce(max(seq), 0) AS top FROM changes) "
    "SELECT top.top, p.upto, c.seq, c.namespace, c.tbl, c.key, c.doc FROM top "
    "CROSS JOIN changes_pruned p LEFT JOIN LATERAL ("
    " SELECT c.seq, c.namespace, c.tbl, c.key, d.doc::text AS doc FROM changes c"
    " LEFT JOIN documents d"
    " ON d.namespace = c.namespace AND d.tbl = c.tbl AND d.key = c.key"
    " WHERE c.seq > %(seen)s AND c.origin <> %(origin)s AND c.namespace = ANY(%(ns)s)"
    " ORDER BY c.seq LIMIT %(limit)s) c ON true ORDER BY c.seq"
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
    await cur.execute(
        _NUMBER,
        {
            "lock": CHANGE_LOCK,
            "origin": origin,
            "channel": CHANNEL,
            "ns": [k[0] for k in keys],
            "tbl": [k[1] for k in keys],
            "key": [k[2] for k in keys],
        },
    )
    row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


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
        # Callers of fetched(), and the latest of them a finished fetch started after.
        self._asked = 0
        self._answered = 0
        self._rounds = asyncio.Condition()
        self.listening = False
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="pg-listen"),
            asyncio.create_task(self._fetch_loop(), name="pg-fetch"),
        ]

    async def stop(self, within: float = 2.0) -> None:
        """Cancel the listener and the fetcher; a connection slow to close is left behind
        after ``within`` seconds rather than holding up the bot's exit."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=within)

    async def fetched(self) -> None:
        """Return once a fetch that started after this call has handed its batch over: then
        everything committed before the call is in the inbox. Concurrent callers share one."""
        self._asked += 1
        mine = self._asked
        self._must_fetch = True
        self._wake.set()
        async with self._rounds:
            await self._rounds.wait_for(lambda: self._answered >= mine)

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
            asked = self._asked
            try:
                await self.fetch()
                self._answered = max(self._answered, asked)
                async with self._rounds:
                    self._rounds.notify_all()
            except Exception as exc:
                # The database away (the pool's timeout), or a namespace closed mid-reload:
                # the next attempt starts again from ``seen``, so nothing is skipped.
                if isinstance(exc, psycopg.Error | OSError):
                    log.debug("fetching changes failed (%s): retrying", _why(exc))
                else:
                    log.exception("fetching changes failed: retrying")
                self._must_fetch = self._must_fetch or must or remote
                await asyncio.sleep(0.5)
                self._wake.set()

    async def fetch(self) -> None:
        """Hand over everything numbered above ``seen`` (fetching it whole if pruned)."""
        namespaces = self._namespaces()
        while True:
            async with self._pool.connection() as conn, conn.cursor() as cur:
                await cur.execute(
                    _FETCH,
                    {
                        "seen": self.seen,
                        "origin": self._origin,
                        "ns": namespaces,
                        "limit": _FETCH_ROWS,
                    },
                )
                found = await cur.fetchall()
            top, pruned = int(found[0][0]), int(found[0][1])
            if not set(self._namespaces()) <= set(namespaces):
                # A namespace was opened meanwhile: its load may predate changes this query
                # passed over, so ``seen`` must not move past them without it.
                namespaces = self._namespaces()
                continue
            if self.seen < pruned:
                break
            rows: list[Row] = [
                (int(seq), ns, tbl, key, None if doc is None else orjson.loads(doc))
                for _, _, seq, ns, tbl, key, doc in found
                if seq is not None
            ]
            full = len(rows) == _FETCH_ROWS
            upto = rows[-1][0] if full else max(top, self.seen)
            if rows or upto > self.seen:
                self.seen = upto
                self._deliver(Batch(upto, rows))
            if not full:
                return
        log.warning(
            "changes up to %d were pruned before this replica saw them (it had seen %d): "
            "reloading %s",
            pruned,
            self.seen,
            ", ".join(namespaces) or "nothing",
        )
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
