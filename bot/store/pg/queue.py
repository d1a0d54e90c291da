"""The digest delivery queue that replicas share (table ``digest_queue``, migration 0002).

The row for a (chat, local date) is that digest's ledger entry: the sweep enqueues it once
(the primary key makes a second enqueue, by this replica or another, a no-op), one replica
claims it with ``FOR UPDATE SKIP LOCKED`` and a lease, records each delivered part, then the
outcome. A claimed row whose lease ran out was left by a replica that died: another claims it
and resumes after its last recorded part. See docs/DIGESTS.md for the duplicate window.

Parts delivered and outcomes go through a group commit: whatever this replica recorded while
one statement was in flight goes in the next, one UPDATE for them all, in the order they were
made; the last part of a one-message digest and its outcome are one row of it. A delivery
waits for its outcome's commit before its worker takes the next row, so what a kill can leave
sent but unrecorded stays one message per delivery in flight.

Leases run on the database's clock, the one clock every replica shares; the application's
clock (injected, moved by the tests) dates what the ledger records, as on TinyDB.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import PoolTimeout

from bot.store.pg.shared import SharedPool

# pg_try_advisory_lock's key for the minute sweep ("pbsweep!" in ASCII): one replica enqueues
# at a time, the others go straight to claiming.
SWEEP_LOCK = 0x7062737765657021
KEEP_DAYS = 35

# What may be claimed now: queued, or claimed by a replica whose lease ran out.
_CLAIM = """
WITH picked AS (
    SELECT chat, local_date, enqueued_at, lease_until AS old_lease FROM digest_queue
    WHERE sub IS NOT NULL AND (status = 'queued'
        OR (status = 'claimed' AND lease_until < clock_timestamp()))
    ORDER BY enqueued_at, chat
    LIMIT %(n)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE digest_queue q
    SET status = 'claimed', claimed_by = %(me)s, claimed_at = clock_timestamp(),
        lease_until = clock_timestamp() + make_interval(secs => %(lease)s)
    FROM picked
    WHERE q.chat = picked.chat AND q.local_date = picked.local_date
    RETURNING q.chat, q.local_date, q.parts, q.sub::text AS sub,
        extract(epoch FROM clock_timestamp()
            - greatest(picked.enqueued_at, coalesce(picked.old_lease, '-infinity')))::float8
            AS waited,
        picked.old_lease IS NOT NULL AS taken_over
)
SELECT c.chat, c.local_date, c.parts, c.sub, c.waited, c.taken_over, last.at, last.local_date
FROM claimed c
LEFT JOIN LATERAL (
    SELECT s.at, s.local_date FROM digest_queue s
    WHERE s.chat = c.chat AND s.status = 'sent' ORDER BY s.at DESC LIMIT 1
) last ON true
"""
_CLAIMABLE = """
SELECT EXISTS (SELECT 1 FROM digest_queue
    WHERE sub IS NOT NULL AND (status = 'queued'
        OR (status = 'claimed' AND lease_until < clock_timestamp())))
"""
_ENQUEUE = """
INSERT INTO digest_queue (chat, local_date, status, sub, at, done_at)
VALUES (%s, %s, %s, %s, %s, CASE WHEN %s = 'skipped' THEN clock_timestamp() END)
ON CONFLICT (chat, local_date) DO UPDATE
SET status = CASE WHEN digest_queue.status = 'failed' THEN 'queued' ELSE digest_queue.status END,
    sub = EXCLUDED.sub
WHERE digest_queue.status = 'failed' OR digest_queue.sub IS NULL
"""
# Parts delivered and outcomes, of every row this replica recorded since its last such
# statement: one round trip for them all (a NULL status records parts only).
_RECORD = """
UPDATE digest_queue q
SET parts = greatest(q.parts, v.parts),
    status = coalesce(v.status, q.status),
    at = coalesce(v.at, q.at),
    done_at = CASE WHEN v.status IS NULL THEN q.done_at ELSE clock_timestamp() END,
    lease_until = CASE WHEN v.status IS NULL THEN q.lease_until END
FROM unnest(%(chats)s::bigint[], %(days)s::date[], %(parts)s::integer[], %(statuses)s::text[],
    %(ats)s::timestamptz[]) AS v(chat, local_date, parts, status, at)
WHERE q.chat = v.chat AND q.local_date = v.local_date AND q.claimed_by = %(me)s
RETURNING q.chat, q.local_date
"""


@dataclass(frozen=True)
class Claimed:
    """A delivery this replica holds until its lease runs out."""

    chat_id: int
    local_date: dt.date
    parts: int  # messages already delivered (a delivery taken over from a dead replica)
    sub: dict[str, Any]  # the subscription's document as the sweep enqueued it
    waited: float  # seconds from enqueue (or from the lease's end) to this claim
    taken_over: bool
    last_sent_at: dt.datetime | None  # when this chat's latest digest went out, if any
    last_sent_day: dt.date | None


@dataclass(frozen=True)
class Depth:
    queued: int
    claimed: int


class QueueUnavailable(RuntimeError):
    """PostgreSQL does not answer: the queue's digests wait (nothing is claimed or lost)."""


@dataclass
class _Record:
    """What is to be written on one row at the next commit, and who waits for it."""

    parts: int
    status: str | None
    at: dt.datetime | None
    waiting: list[asyncio.Future[bool]]


class DeliveryQueue:
    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        try:
            async with self._pool.connection() as conn:
                yield conn
        except (OSError, psycopg.Error, PoolTimeout) as exc:
            raise QueueUnavailable(str(exc).strip().splitlines()[-1] if str(exc) else exc) from exc

    def __init__(self, pool: SharedPool, *, lease: float = 60.0, owner: str | None = None):
        self._pool = pool
        self.lease = lease
        # Who holds a claim: a replica restarted on the same host is a new owner, so a row
        # it claimed in its previous life is taken over only once the lease ends.
        self.owner = owner or uuid.uuid4().hex
        self._records: dict[tuple[int, dt.date], _Record] = {}
        self._recorder: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def leading(self) -> AsyncIterator[bool]:
        """True while this replica alone runs the sweep's enqueue step (others get False)."""
        async with self._connection() as conn:
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (SWEEP_LOCK,))
            row = await cur.fetchone()
            got = bool(row and row[0])
            try:
                yield got
            finally:
                if got:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (SWEEP_LOCK,))

    async def subscription_docs(self) -> list[dict[str, Any]]:
        """Every subscription as the database has it now: another replica may have changed
        one since this replica loaded its copy of the store."""
        async with self._connection() as conn:
            cur = await conn.execute(
                "SELECT doc::text FROM documents"
                " WHERE namespace = 'users' AND tbl = 'subscriptions'"
            )
            return [json.loads(row[0]) for row in await cur.fetchall()]

    async def known(self, days: Iterable[dt.date]) -> set[tuple[int, dt.date]]:
        """(chat, day) pairs already in the queue and not to be enqueued again (any status
        but failed)."""
        async with self._connection() as conn:
            cur = await conn.execute(
                "SELECT chat, local_date FROM digest_queue"
                " WHERE local_date = ANY(%s) AND status <> 'failed' AND sub IS NOT NULL",
                (list(days),),
            )
            return {(int(chat), day) for chat, day in await cur.fetchall()}

    async def enqueue(
        self, rows: Sequence[tuple[int, dt.date, str, dict[str, Any], dt.datetime]]
    ) -> None:
        """(chat, day, "queued" or "skipped", subscription document, now) rows, idempotently:
        a row already there stays as it is, unless it failed (queued again)."""
        if not rows:
            return
        params = [
            (chat, day, status, Jsonb(doc), at, status) for chat, day, status, doc, at in rows
        ]
        async with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.executemany(_ENQUEUE, params)

    async def claimable(self) -> bool:
        async with self._connection() as conn:
            cur = await conn.execute(_CLAIMABLE)
            row = await cur.fetchone()
            return bool(row and row[0])

    async def claim(self, limit: int) -> list[Claimed]:
        async with self._connection() as conn:
            cur = await conn.execute(_CLAIM, {"n": limit, "me": self.owner, "lease": self.lease})
            rows = await cur.fetchall()
        return [
            Claimed(
                chat_id=int(chat),
                local_date=day,
                parts=int(parts),
                sub=json.loads(sub),
                waited=max(0.0, float(waited)),
                taken_over=bool(taken_over),
                last_sent_at=last_at,
                last_sent_day=last_day,
            )
            for chat, day, parts, sub, waited, taken_over, last_at, last_day in rows
        ]

    def submit_parts(self, chat_id: int, day: dt.date, parts: int) -> asyncio.Future[bool]:
        """Record that the first ``parts`` messages of a claimed row went out; resolved once
        committed (False: the row is no longer this replica's)."""
        return self._submit(chat_id, day, parts, None, None)

    def submit_outcome(
        self, chat_id: int, day: dt.date, status: str, at: dt.datetime
    ) -> asyncio.Future[bool]:
        """The outcome; resolved once committed, False when the row is no longer this
        replica's (its lease ran out and another replica took it over)."""
        return self._submit(chat_id, day, 0, status, at)

    async def finish(self, chat_id: int, day: dt.date, status: str, at: dt.datetime) -> bool:
        return await self.submit_outcome(chat_id, day, status, at)

    def _submit(
        self, chat_id: int, day: dt.date, parts: int, status: str | None, at: dt.datetime | None
    ) -> asyncio.Future[bool]:
        # Group commit: what is submitted while a statement is in flight goes in the next one,
        # so a row's records commit in the order they were made, and a part recorded just
        # before its outcome (a one-message digest) is one row of one statement with it.
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        record = self._records.get((chat_id, day))
        if record is None:
            self._records[(chat_id, day)] = _Record(parts, status, at, [done])
        else:
            record.parts = max(record.parts, parts)
            if status is not None:
                record.status, record.at = status, at
            record.waiting.append(done)
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.ensure_future(self._write_records())
        return done

    async def _write_records(self) -> None:
        while self._records:
            batch, self._records = self._records, {}
            rows = list(batch.items())
            params = {
                "chats": [chat for (chat, _), _ in rows],
                "days": [day for (_, day), _ in rows],
                "parts": [r.parts for _, r in rows],
                "statuses": [r.status for _, r in rows],
                "ats": [r.at for _, r in rows],
                "me": self.owner,
            }
            try:
                async with self._connection() as conn:
                    cur = await conn.execute(_RECORD, params)
                    mine = {(int(chat), day) for chat, day in await cur.fetchall()}
            except QueueUnavailable as exc:
                for _, record in rows:
                    for waiting in record.waiting:
                        if not waiting.done():
                            waiting.set_exception(exc)
                continue
            except BaseException:
                for _, record in rows:
                    for waiting in record.waiting:
                        waiting.cancel()
                raise
            for key, record in rows:
                for waiting in record.waiting:
                    if not waiting.done():
                        waiting.set_result(key in mine)

    async def renew(self, chat_id: int, day: dt.date) -> bool:
        """Extend a claim still held; False when its lease already ran out (another replica
        may have it now, so this one must not send it)."""
        async with self._connection() as conn:
            cur = await conn.execute(
                "UPDATE digest_queue"
                " SET lease_until = clock_timestamp() + make_interval(secs => %s)"
                " WHERE chat = %s AND local_date = %s AND claimed_by = %s"
                " AND status = 'claimed' AND lease_until > clock_timestamp()",
                (self.lease, chat_id, day, self.owner),
            )
            return cur.rowcount == 1

    async def release(self, chat_id: int, day: dt.date) -> None:
        """Give a claimed row back untouched (shutting down before sending it)."""
        async with self._connection() as conn:
            await conn.execute(
                "UPDATE digest_queue SET status = 'queued', lease_until = NULL, claimed_by = NULL"
                " WHERE chat = %s AND local_date = %s AND claimed_by = %s AND parts = 0",
                (chat_id, day, self.owner),
            )

    async def deactivate(self, chat_id: int) -> None:
        """The subscriber blocked the bot: flag the document in place, so that a stale copy
        of the store in another replica does not undo it at the next sweep."""
        async with self._connection() as conn:
            await conn.execute(
                "UPDATE documents SET doc = jsonb_set(doc, '{active}', 'false'),"
                " updated_at = now()"
                " WHERE namespace = 'users' AND tbl = 'subscriptions' AND key = %s",
                (str(chat_id),),
            )

    async def depth(self) -> Depth:
        async with self._connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'queued'),"
                " count(*) FILTER (WHERE status = 'claimed')"
                " FROM digest_queue WHERE status IN ('queued', 'claimed')"
            )
            row = await cur.fetchone()
        return Depth(int(row[0]), int(row[1])) if row else Depth(0, 0)

    async def forget_before(self, day: dt.date) -> None:
        async with self._connection() as conn:
            await conn.execute("DELETE FROM digest_queue WHERE local_date < %s", (day,))

    async def statuses(self) -> dict[tuple[int, dt.date], str]:
        """Every row's status (tests, benchmarks and the CLI)."""
        async with self._connection() as conn:
            cur = await conn.execute("SELECT chat, local_date, status FROM digest_queue")
            return {(int(c), d): str(s) for c, d, s in await cur.fetchall()}
