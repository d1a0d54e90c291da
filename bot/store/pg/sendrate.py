"""The per-token send rate every replica shares (table ``send_rate``, migration 0002).

Telegram counts messages per bot token, whichever process sends them. One row holds the
theoretical time of the next send (GCRA, the generic cell rate algorithm): a replica reserves
a chunk of consecutive slots, ``1 / rate`` apart, with one UPDATE, and sends one message per
slot; a chunk is as large as what the replica used of its previous one, plus one, up to 50 ms
of sends. Slots handed to different replicas never overlap, so their sum stays under the rate.
A 429's retry_after moves the row's clock past the pause for everyone.

Two things keep the reservation's round trip out of the senders' way. The next chunk is
reserved once half of the current one is used, while its slots go out. And a chunk starts a
round trip and a half (smoothed, at most 100 ms) after the database's now rather than at it:
on a loaded machine the answer took longer than the slack (below), so every slot of a chunk
starting "now" was already late when it arrived, was dropped, and was reserved again — the
senders spent most of their time reserving (bench/fleet.py at load average 10). Slots are
placed on this loop's clock through its offset to the database's clock, so that every
replica reads the one timeline alike.

Why not pyrate-limiter's PostgresBucket: it takes psycopg's synchronous ConnectionPool (each
acquire would block the event loop, or cost a thread hop), writes one row per message and
counts them over the window, which at 1,000 msg/s is 1,000 inserts a second plus the counts,
and it has no notion of a pause that every client must honour. ``limits`` has no PostgreSQL
storage. The row here costs one UPDATE per chunk (about 50 ms of sends).

Rules that keep the sum at or under the limit, measured over any sliding second:
* a slot is used no later than ``slack`` after its time, or dropped (a replica whose loop was
  busy must not send a backlog of slots at once), a slot a sender already waits for included;
* slots are spaced for ``rate * (1 - headroom)``: what a slot may lag (slack) and what the
  network adds before Telegram counts the message both fit in the headroom.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque

import psycopg
from psycopg_pool import PoolTimeout

from bot.store.pg.shared import SharedPool

log = logging.getLogger(__name__)
RESERVE_TIMEOUT = 1.0  # seconds; past it the database is taken as away (see _alone)
MAX_LEAD = 0.1  # seconds; how far ahead of the database's now a reservation may start
_RESERVE = """
UPDATE send_rate
SET next_at = greatest(next_at, clock_timestamp() + make_interval(secs => %(lead)s),
        paused_until)
    + make_interval(secs => %(span)s)
WHERE id = 1
RETURNING extract(epoch FROM next_at)::float8 - %(span)s,
    extract(epoch FROM clock_timestamp())::float8
"""
_PAUSE = """
UPDATE send_rate
SET paused_until = greatest(paused_until, clock_timestamp() + make_interval(secs => %(s)s)),
    next_at = greatest(next_at, clock_timestamp() + make_interval(secs => %(s)s))
WHERE id = 1
"""


class SharedSendRate:
    def __init__(
        self,
        pool: SharedPool,
        rate: float,
        *,
        chunk_seconds: float = 0.05,
        slack: float = 0.01,
        headroom: float = 0.03,
    ) -> None:
        self._pool = pool
        self.limit = rate
        self._interval = 1.0 / (rate * (1.0 - headroom))
        self._max_chunk = max(1, math.ceil(chunk_seconds / self._interval))
        # Slots a reservation takes: what this replica used since its last one, plus one. A
        # replica that sends slower than the rate (busy CPU, few digests) must not take 50 ms
        # of the shared timeline per reservation and drop most of it: the others would lose
        # it too. The next reservation is made ahead, once half a chunk is left.
        self._chunk = 1
        self._used = 0
        self._slack = slack
        self._slots: deque[float] = deque()  # loop.time() of each slot reserved, in order
        self._reserving = asyncio.Lock()
        self._ahead: asyncio.Future[None] | None = None  # the reservation made ahead, if any
        self._trip: float | None = None  # a reservation's round trip, smoothed, in seconds
        self._lead = 0.0
        self._best_trip: float | None = None  # the round trip _offset was measured on
        self._offset = 0.0  # the database's clock minus this loop's, in seconds
        self.dropped = 0  # slots this replica reserved but did not use in time
        self._offline = False
        self._local_next = 0.0

    async def acquire(self) -> None:
        """Wait for this replica's next slot."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            while self._slots and self._slots[0] < now - self._slack:
                self._slots.popleft()
                self.dropped += 1
            if self._slots:
                slot = self._slots.popleft()
                self._used += 1
                ahead = self._ahead
                if len(self._slots) <= self._chunk // 2 and (ahead is None or ahead.done()):
                    # Half the chunk left: reserve the next one now, so that its round trip
                    # overlaps these sends instead of making the next sender wait for it.
                    self._ahead = asyncio.ensure_future(self._refill(loop))
                if slot > now:
                    await asyncio.sleep(slot - now)
                    if loop.time() > slot + self._slack:
                        # Woken too late (a busy loop): sending now would bunch this slot
                        # with the next ones, its own and the other replicas'.
                        self.dropped += 1
                        continue
                return
            await self._refill(loop)

    async def _refill(self, loop: asyncio.AbstractEventLoop) -> None:
        async with self._reserving:
            if len(self._slots) > self._chunk // 2:
                return
            try:
                await asyncio.wait_for(self._reserve(loop), RESERVE_TIMEOUT)
            except (TimeoutError, OSError, psycopg.Error, PoolTimeout) as exc:
                self._alone(loop, exc)

    async def _reserve(self, loop: asyncio.AbstractEventLoop) -> None:
        self._chunk = min(self._max_chunk, self._used + 1)
        self._used = 0
        span = self._chunk * self._interval
        asked = loop.time()
        async with self._pool.connection() as conn:
            cur = await conn.execute(_RESERVE, {"span": span, "lead": self._lead})
            row = await cur.fetchone()
        # Slots start no sooner than a round trip and a half from the database's now: on a busy
        # machine the answer can take longer than the slack, and slots starting at the
        # database's now would all be late, dropped, and reserved again, over and over.
        arrived = loop.time()
        trip = arrived - asked
        self._trip = trip if self._trip is None else 0.8 * self._trip + 0.2 * trip
        self._lead = min(MAX_LEAD, 1.5 * self._trip)
        if self._offline:
            log.info("send rate: PostgreSQL answers again; the rate is shared again")
            self._offline = False
        if row is None:
            return
        # The database's clock is the timeline every replica shares. Placed on this loop's
        # clock by the time each answer arrived, chunks of different replicas would each be
        # shifted by their own answer's delay, and on a busy machine two such shifts apart by
        # tens of milliseconds put more than the rate in one second (the three-replica e2e saw
        # 516 at 500). So the offset between the clocks comes from the fastest round trip seen
        # lately (its error is at most half of it), as NTP does.
        sample = float(row[1]) - (asked + arrived) / 2
        if self._best_trip is None or trip <= self._best_trip:
            self._best_trip, self._offset = trip, sample
        else:
            self._best_trip *= 1.02  # let a later, slower sample in if the fast ones stop
        start = float(row[0]) - self._offset
        self._slots.extend(start + i * self._interval for i in range(self._chunk))

    def _alone(self, loop: asyncio.AbstractEventLoop, exc: BaseException) -> None:
        """The database does not answer: pace this replica alone at the whole rate rather than
        stop answering readers (the sum may then exceed the rate until it is back)."""
        if not self._offline:
            log.warning("send rate: PostgreSQL does not answer (%s); pacing locally", exc)
            self._offline = True
        start = max(loop.time(), self._local_next)
        self._slots.append(start)
        self._local_next = start + self._interval

    async def pause(self, seconds: float) -> None:
        """Telegram said "retry after": every replica waits, this one from now."""
        self._slots.clear()
        loop = asyncio.get_running_loop()
        self._local_next = max(self._local_next, loop.time() + seconds)
        try:
            async with asyncio.timeout(RESERVE_TIMEOUT):
                async with self._pool.connection() as conn:
                    await conn.execute(_PAUSE, {"s": seconds})
        except (TimeoutError, OSError, psycopg.Error, PoolTimeout):
            log.warning("Telegram asked to wait %.1f s; PostgreSQL does not answer", seconds)
            return
        log.warning("Telegram asked to wait %.1f s: every replica pauses", seconds)
