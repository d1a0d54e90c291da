"""The send rate replicas share: two limiters on one database never give out more slots than
the rate in any sliding second, and a pause asked by one holds the other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import psycopg
import pytest

from bot.store.pg.backend import PgBackend
from bot.store.pg.sendrate import SharedSendRate
from bot.store.pg.shared import SharedPool

RATE = 100.0


@pytest.fixture
async def pools(database_url: str) -> AsyncIterator[list[SharedPool]]:
    PgBackend(database_url).close()  # migrates
    opened = [SharedPool(database_url), SharedPool(database_url)]
    yield opened
    for pool in opened:
        await pool.close()


def _peak(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    peak, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


async def test_two_replicas_together_stay_under_the_rate(pools: list[SharedPool]) -> None:
    limiters = [SharedSendRate(pool, RATE) for pool in pools]
    loop = asyncio.get_running_loop()
    sent: list[float] = []

    async def send(limiter: SharedSendRate, count: int) -> None:
        for _ in range(count):
            await limiter.acquire()
            sent.append(loop.time())

    started = loop.time()
    await asyncio.gather(*(send(limiter, 150) for limiter in limiters))
    elapsed = loop.time() - started
    assert _peak(sent) <= RATE
    assert elapsed >= 300 / RATE - 0.2, "the two together, not each, are held to the rate"


async def test_a_pause_asked_by_one_replica_holds_the_other(pools: list[SharedPool]) -> None:
    first, second = (SharedSendRate(pool, RATE) for pool in pools)
    loop = asyncio.get_running_loop()
    await first.pause(0.5)
    started = loop.time()
    await second.acquire()
    assert loop.time() - started >= 0.45


def _slow_reservations(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        # The new row is computed (its clock read) before the trigger runs: the answer comes
        # 40 ms after the database's "now", four times the 10 ms slack.
        conn.execute(
            "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_sleep(0.04); RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER slow BEFORE UPDATE ON send_rate FOR EACH ROW EXECUTE FUNCTION slow()"
        )


def _hold_the_loop(seconds: float) -> None:
    """A busy event loop (CPU work in a handler, a loaded machine): nothing else runs."""
    time.sleep(seconds)


async def test_slots_from_a_database_slower_than_the_slack_are_not_all_dropped(
    database_url: str, pools: list[SharedPool]
) -> None:
    """A reservation answered later than a slot may be late (a loaded machine): the next
    chunks start far enough ahead to be used, instead of being dropped and reserved again."""
    _slow_reservations(database_url)
    limiter = SharedSendRate(pools[0], 1000.0)

    async def sends() -> None:
        for _ in range(100):
            await limiter.acquire()

    # Without the lead it never finishes: every slot arrives late and is dropped.
    await asyncio.wait_for(sends(), 20)
    # A loaded machine still drops some (a sender woken late); far fewer than it sends.
    assert limiter.dropped <= 50, f"{limiter.dropped} slots dropped for 100 sends"


async def test_a_slot_whose_sender_woke_too_late_is_not_used(pools: list[SharedPool]) -> None:
    """Waiting for a slot ahead, a sender whose loop was busy past the slack takes a later
    slot instead (sending late would bunch it with the next ones, over the rate)."""
    limiter = SharedSendRate(pools[0], 10.0)  # a slot every 100 ms
    await limiter.acquire()
    await asyncio.sleep(0.05)  # the next chunk (100 and 200 ms after the first) is in
    dropped = limiter.dropped
    waiting = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)  # it takes the next slot, 50 ms ahead, and sleeps until it
    _hold_the_loop(0.3)  # past the slot and its slack
    await waiting
    assert limiter.dropped > dropped
