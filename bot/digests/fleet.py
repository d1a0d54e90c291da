"""Daily digests with several replicas on PostgreSQL: a shared queue instead of the ledger.

Each replica's minute sweep tries to lead (an advisory lock): the leader reads every
subscription from the database (another replica may have changed one since this replica
loaded its copy) and enqueues the digests due now, idempotently, keyed by chat and local date.
Every replica then claims rows in small batches (``FOR UPDATE SKIP LOCKED``, with a lease)
and delivers them, ``concurrency`` (16) at a time, through the same Sender as the embedded
sweep; the next batch is claimed while the last round of the current one goes out.
A replica that is not sweeping checks every few seconds whether anything is claimable, so a
queue one replica filled is drained by all of them, and rows a dead replica held are taken
over once their lease ends (see docs/DIGESTS.md for the duplicate window).

The embedded path (TinyDB, one process) keeps DigestService.sweep and its ledger unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import replace

from bot.core.schedule import DEFAULT_CATCH_UP, decide
from bot.core.tally import NoTally, Tally
from bot.digests.sweep import Composed, DigestService, Sender, SweepReport
from bot.store.pg.queue import KEEP_DAYS, Claimed, DeliveryQueue, QueueUnavailable
from bot.store.subscriptions import SubscriptionStore, subscription_of

log = logging.getLogger(__name__)


class FleetDigests:
    def __init__(
        self,
        digests: DigestService,
        queue: DeliveryQueue,
        subscriptions: SubscriptionStore,
        *,
        catch_up: dt.timedelta = DEFAULT_CATCH_UP,
        concurrency: int = 16,
        batch: int = 16,
        stats: Tally | None = None,
        on_claim: Callable[[float], None] | None = None,
    ) -> None:
        self._digests = digests
        self.queue = queue
        self._subscriptions = subscriptions
        self._catch_up = catch_up
        self._concurrency = concurrency
        self._batch = batch
        self._stats = stats or NoTally()
        self._on_claim = on_claim
        self._draining = asyncio.Lock()

    async def sweep(self, sender: Sender, now: dt.datetime) -> SweepReport:
        """The minute sweep: enqueue what is due (if this replica leads), then drain."""
        if self._digests.stopping:
            return SweepReport({})
        try:
            async with self.queue.leading() as leader:
                if leader:
                    await self.enqueue_due(now)
            return await self.drain(sender, now)
        except QueueUnavailable as exc:
            # Claimed rows stay claimed (their lease brings them back); nothing is lost.
            log.warning("digest sweep waits: PostgreSQL does not answer (%s)", exc)
            return SweepReport({"waiting": 1})

    async def poll(self, sender: Sender, now: dt.datetime) -> SweepReport | None:
        """Between sweeps: drain when another replica enqueued, or a dead one's lease ended."""
        if self._draining.locked() or self._digests.stopping:
            return None
        try:
            if not await self.queue.claimable():
                return None
            return await self.drain(sender, now)
        except QueueUnavailable:
            return None  # the minute sweep says so in the log

    async def enqueue_due(self, now: dt.datetime) -> int:
        """Queue every digest due at ``now`` that the queue does not hold yet; how many."""
        due = []
        for doc in await self.queue.subscription_docs():
            sub = subscription_of(doc)
            decision = decide(sub, now, False, self._catch_up)
            if decision is not None:
                due.append((sub.chat_id, decision[1].local_date, decision[0], doc))
        known = await self.queue.known({day for _, day, _, _ in due})
        rows = [
            (chat, day, "queued" if action == "send" else "skipped", doc, now)
            for chat, day, action, doc in due
            if (chat, day) not in known
        ]
        await self.queue.enqueue(rows)
        skipped = sum(1 for row in rows if row[2] == "skipped")
        if skipped:
            self._stats.add("digest_skipped", skipped)
        await self.queue.forget_before(now.date() - dt.timedelta(days=KEEP_DAYS))
        if rows:
            log.info("digest sweep: %d queued, %d skipped", len(rows) - skipped, skipped)
        return len(rows)

    async def drain(self, sender: Sender, now: dt.datetime) -> SweepReport:
        """Claim and deliver until the queue has nothing claimable left."""
        async with self._draining:
            counts: Counter[str] = Counter()
            composed: Composed = {}
            loop = asyncio.get_running_loop()
            held: deque[tuple[Claimed, float]] = deque()  # claimed rows and when, locally
            refill = asyncio.Lock()
            exhausted = False

            ahead: list[asyncio.Task[None]] = []  # the claim made ahead, if any

            async def claim() -> None:
                nonlocal exhausted
                async with refill:
                    if len(held) > self._concurrency or exhausted:
                        return
                    claimed = await self.queue.claim(self._batch)
                    at = loop.time()
                    for row in claimed:
                        if self._on_claim is not None:
                            self._on_claim(row.waited)
                        if row.taken_over:
                            log.info("took over the digest for one chat after a lease")
                    held.extend((row, at) for row in claimed)
                    exhausted = not claimed

            async def claim_ahead() -> None:
                # On an error, the next worker to run dry claims itself, and stops on it.
                with contextlib.suppress(QueueUnavailable):
                    await claim()

            async def next_row() -> tuple[Claimed, float] | None:
                if (
                    held
                    and len(held) <= self._concurrency
                    and not exhausted
                    and not refill.locked()
                    and not (ahead and not ahead[-1].done())
                ):
                    # A round of sends left: claim the next batch while they go, rather than
                    # have every worker wait for the claim once the rows run out.
                    ahead[:] = [asyncio.ensure_future(claim_ahead())]
                while not held and not exhausted:
                    await claim()
                return held.popleft() if held else None

            async def worker() -> None:
                while not self._digests.stopping:
                    got = await next_row()
                    if got is None:
                        return
                    row, at = got
                    # A row held past a quarter of its lease (a slow loop, a 429 pause) may be
                    # about to pass to another replica: renew it, or leave it to them.
                    if loop.time() - at > self.queue.lease / 4 and not await self.queue.renew(
                        row.chat_id, row.local_date
                    ):
                        counts["lost_lease"] += 1
                        continue
                    counts[await self._deliver(sender, row, now, composed)] += 1

            try:
                results = await asyncio.gather(
                    *(worker() for _ in range(self._concurrency)), return_exceptions=True
                )
            finally:
                # Stopping: give back what was claimed and not started, for the others now
                # rather than after the lease (a claim made ahead included).
                if ahead:
                    await asyncio.gather(*ahead, return_exceptions=True)
                while held:
                    row, _ = held.popleft()
                    try:
                        await self.queue.release(row.chat_id, row.local_date)
                    except Exception:
                        log.warning("could not give back a claimed digest; its lease will")
                        break
            for result in results:
                if isinstance(result, QueueUnavailable):
                    log.warning("a digest worker stopped: PostgreSQL does not answer (%s)", result)
                    counts["waiting"] += 1
                elif isinstance(result, BaseException):
                    log.error("a digest worker failed; the others went on", exc_info=result)
                    counts["failed"] += 1
            for outcome, count in counts.items():
                self._stats.add(f"digest_{outcome}", count)
            report = SweepReport(dict(counts))
            if counts:
                log.info("digest queue drained: %s", report)
            return report

    async def _deliver(
        self, sender: Sender, row: Claimed, now: dt.datetime, composed: Composed
    ) -> str:
        sub = subscription_of(row.sub)
        previous = None
        if row.last_sent_at is not None and row.last_sent_at > sub.last_sent_at:
            sub = replace(sub, last_sent_at=row.last_sent_at)
            previous = row.last_sent_day
        reply = self._digests.compose(sub, now, composed, row.local_date, previous)
        if reply is None:
            await self.queue.finish(row.chat_id, row.local_date, "skipped", now)
            return "empty"
        writes: list[asyncio.Future[bool]] = []

        def progress(parts: int) -> None:
            # Submitted at once, committed by the queue's next statement with whatever else
            # this replica recorded meanwhile; the last part of a digest goes in one row with
            # its outcome, submitted right after it.
            writes.append(self.queue.submit_parts(row.chat_id, row.local_date, parts))

        try:
            outcome: str = await sender.send(row.chat_id, reply, skip=row.parts, on_part=progress)
        except Exception:
            log.exception("delivery to one chat failed; the others go on")
            outcome = "failed"
        writes.append(self.queue.submit_outcome(row.chat_id, row.local_date, outcome, now))
        # This worker takes its next row only once its outcome is committed, so what a kill
        # can leave sent but unrecorded stays one message per worker.
        results = await asyncio.gather(*writes, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        if results[-1] is False:
            log.warning("a digest's lease ran out during its send; another replica has it")
        if outcome == "blocked":
            await self.queue.deactivate(row.chat_id)
            self._subscriptions.set_active(row.chat_id, False, save=False)
        return outcome
