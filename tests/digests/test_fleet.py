"""Digests on PostgreSQL with several replicas: one row per chat and local day in the shared
queue, each claimed by one replica, taken over after a dead replica's lease, and the embedded
ledger's entries carried over by the migration."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from bot.core.domain import Library, Reply, Subscription
from bot.digests.fleet import FleetDigests
from bot.digests.sweep import DigestService, Outcome
from bot.store.ledger import Ledger
from bot.store.pg.backend import PgBackend
from bot.store.pg.queue import DeliveryQueue
from bot.store.pg.shared import SharedPool
from bot.store.subscriptions import SubscriptionStore
from bot.store.users import UserStore
from tests.digests.test_digests import BEFORE, MORNING, RecordingSender

CHATS = range(1, 41)


LEASE = 4.0  # seconds


class Replica:
    """One bot process's digest side: its own copy of the stores, its own pool and owner."""

    def __init__(self, url: str, library: Library, *, lease: float = 60.0) -> None:
        self.backend = PgBackend(url)
        self.users = UserStore(self.backend)
        self.subs = SubscriptionStore(self.users.tables)
        self.ledger = Ledger(self.backend, today=MORNING.date)
        self.pool = SharedPool(url)
        self.queue = DeliveryQueue(self.pool, lease=lease)
        self.claims: list[float] = []
        self.fleet = FleetDigests(
            DigestService(lambda: library, self.subs, self.ledger),
            self.queue,
            self.subs,
            batch=4,
            on_claim=self.claims.append,
        )

    async def close(self) -> None:
        await self.pool.close()
        self.ledger.close()
        self.users.close()
        self.backend.close()


def _sub(chat: int) -> Subscription:
    return Subscription(chat, chat, dt.time(7, 30), "Europe/Paris", "fr", "fr", BEFORE, BEFORE)


@pytest.fixture
async def replicas(database_url: str, library: Library) -> AsyncIterator[list[Replica]]:
    first = Replica(database_url, library)
    for chat in CHATS:
        first.subs.put(_sub(chat))
    assert first.backend.settle()
    both = [first, Replica(database_url, library)]
    yield both
    for replica in both:
        await replica.close()


class SlowSender(RecordingSender):
    """Takes a little while per message, as Telegram does, so replicas overlap."""

    async def send(self, chat_id: int, reply: Reply, **kw: Any) -> Outcome:
        await asyncio.sleep(0.05)
        return await super().send(chat_id, reply, **kw)


async def test_two_replicas_sweeping_together_send_each_digest_once(
    replicas: list[Replica],
) -> None:
    """Both sweep the same minute, one enqueues, both deliver: each chat gets one digest."""
    senders = [SlowSender(), SlowSender()]
    first, second = replicas

    async def second_replica() -> None:
        await second.fleet.sweep(senders[1], MORNING)
        for _ in range(500):  # it found nothing yet: the other one enqueues
            if senders[1].sent:
                return
            await second.fleet.poll(senders[1], MORNING)
            await asyncio.sleep(0.01)

    reports = await asyncio.gather(first.fleet.sweep(senders[0], MORNING), second_replica())
    chats = [chat for s in senders for chat, _ in s.sent]
    assert sorted(chats) == list(CHATS)
    # Which replica claims what is a race (the first may claim every row in one batch of 16);
    # what must hold whatever the interleaving is one digest per chat.
    assert reports[0] is not None or reports[1] is not None
    assert sum(len(r.claims) for r in replicas) == len(CHATS)
    later = MORNING + dt.timedelta(minutes=1)
    again = await asyncio.gather(
        *(r.fleet.sweep(s, later) for r, s in zip(replicas, senders, strict=True))
    )
    assert [r.counts for r in again] == [{}, {}], "nothing twice"
    assert len([c for s in senders for c, _ in s.sent]) == len(CHATS)


async def test_a_subscription_made_on_another_replica_is_seen_by_the_sweep(
    replicas: list[Replica],
) -> None:
    """The sweep reads subscriptions from the database, not from this replica's copy."""
    first, second = replicas
    second.subs.put(_sub(500))
    assert second.backend.settle()
    assert first.subs.get(500) is None  # the first replica's copy does not know it
    sender = RecordingSender()
    await first.fleet.sweep(sender, MORNING)
    assert 500 in {chat for chat, _ in sender.sent}


async def test_rows_of_a_dead_replica_are_taken_over_after_the_lease(
    database_url: str, library: Library, replicas: list[Replica]
) -> None:
    """A replica that claimed rows and died: another sends them once the lease ran out, and
    not before; claim latency counts from the lease's end."""
    first, _ = replicas
    # The lease must outlast the other replica's drain below, even on a loaded machine.
    short = Replica(database_url, library, lease=LEASE)
    try:
        await first.fleet.enqueue_due(MORNING)
        held = await short.queue.claim(5)  # then it "dies": never sends them
        assert len(held) == 5
        sender = RecordingSender()
        await first.fleet.drain(sender, MORNING)
        sent = {chat for chat, _ in sender.sent}
        assert sent == set(CHATS) - {row.chat_id for row in held}
        await asyncio.sleep(LEASE + 0.3)
        taken = RecordingSender()
        report = await first.fleet.poll(taken, MORNING)
        assert report is not None and report.counts == {"sent": 5}
        assert {chat for chat, _ in taken.sent} == {row.chat_id for row in held}
        assert max(first.claims[-5:]) < LEASE, "waited from the lease's end, not the enqueue"
        assert not await short.queue.finish(held[0].chat_id, held[0].local_date, "sent", MORNING)
    finally:
        await short.close()


async def test_a_failed_digest_is_queued_again_by_the_next_sweep(
    replicas: list[Replica],
) -> None:
    first, _ = replicas
    failing = RecordingSender({7: "failed"})
    await first.fleet.sweep(failing, MORNING)
    assert 7 not in {chat for chat, _ in failing.sent}
    retry = RecordingSender()
    report = await first.fleet.sweep(retry, MORNING + dt.timedelta(minutes=1))
    assert report.counts == {"sent": 1} and retry.sent[0][0] == 7


async def test_a_blocked_subscriber_is_deactivated_in_the_database(
    replicas: list[Replica],
) -> None:
    """The flag is set on the stored document, so the next sweep by any replica skips them."""
    first, second = replicas
    await first.fleet.sweep(RecordingSender({3: "blocked"}), MORNING)
    tomorrow = MORNING + dt.timedelta(days=1)
    sender = RecordingSender()
    await second.fleet.sweep(sender, tomorrow)
    assert 3 not in {chat for chat, _ in sender.sent}
    assert len(sender.sent) == len(CHATS) - 1


async def test_the_migration_carries_the_embedded_ledger_over(
    database_url: str, library: Library
) -> None:
    """A digest the ledger recorded as sent is not sent again once the queue takes over, and
    one it left ``sending`` is resumed after its recorded parts."""
    backend = PgBackend(database_url)
    ledger = Ledger(backend, today=MORNING.date)
    ledger.record(1, MORNING.date(), "sent", MORNING)
    ledger.record(2, MORNING.date(), "sending", MORNING, parts=1)
    ledger.close()
    backend.close()
    # Back to the schema of an embedded bot's database before the queue (version 1); the
    # migrations after it (0003, replicas' changes) run again too.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version >= 2")
        conn.execute("DROP TABLE digest_queue, send_rate, changes, changes_pruned")
        conn.execute("DROP SEQUENCE change_seq")
    replica = Replica(database_url, library)  # migrates again, from version 1
    try:
        statuses = await replica.queue.statuses()
        assert statuses == {(1, MORNING.date()): "sent", (2, MORNING.date()): "claimed"}
    finally:
        await replica.close()


async def test_parts_and_outcomes_recorded_together_each_land_on_their_row(
    database_url: str, replicas: list[Replica]
) -> None:
    """Records submitted at once commit together: each row keeps its parts and its outcome
    (parts kept on a failure, to resume after them), and a row another replica holds is
    reported as not this one's."""
    first, second = replicas
    await first.fleet.enqueue_due(MORNING)
    mine = await first.queue.claim(3)
    theirs = await second.queue.claim(1)
    day = MORNING.date()
    done = [
        first.queue.submit_parts(mine[0].chat_id, day, 1),
        first.queue.submit_parts(mine[0].chat_id, day, 2),
        first.queue.submit_outcome(mine[0].chat_id, day, "sent", MORNING),
        first.queue.submit_parts(mine[1].chat_id, day, 1),
        first.queue.submit_outcome(mine[1].chat_id, day, "failed", MORNING),
        first.queue.submit_outcome(mine[2].chat_id, day, "blocked", MORNING),
        first.queue.submit_outcome(theirs[0].chat_id, day, "sent", MORNING),
    ]
    assert await asyncio.gather(*done) == [True] * 6 + [False]
    with psycopg.connect(database_url) as conn:
        rows = dict(
            (chat, (status, parts))
            for chat, status, parts in conn.execute(
                "SELECT chat, status, parts FROM digest_queue WHERE chat = ANY(%s)",
                ([r.chat_id for r in (*mine, *theirs)],),
            )
        )
    assert rows == {
        mine[0].chat_id: ("sent", 2),
        mine[1].chat_id: ("failed", 1),
        mine[2].chat_id: ("blocked", 0),
        theirs[0].chat_id: ("claimed", 0),
    }
