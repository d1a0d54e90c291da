"""What one user-facing store write costs, with 10,000 and 100,000 subscribers in users.json.

    python -m bench.stores [--sizes 10000 100000] [--writes 200]

A /lang or a /subscribe is one write; before the journal (bot/store/journal.py) each rewrote
the whole file, and the bot's event loop waited for it. Figures: the median and the worst of
``--writes`` writes of each kind (the worst includes the start of a fold, every 1,000 changes,
when one falls inside), the time of a synchronous fold (what close() does, and every write
cost before the journal), the time to open the store, and the event loop's longest stall
while 1,500 /lang writes run on it, one a millisecond, with the fold they trigger running on
the store's worker thread: no store operation may hold the loop for more than 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.store.subscriptions import SubscriptionStore
from bot.store.users import UserStore
from tests.support.seed import due_subscriptions, write_subscriptions


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


async def _loop_stall(users: UserStore, writes: int) -> tuple[float, float]:
    """(longest gap between the loop's 1 ms ticks, longest single write), in ms, while
    ``writes`` writes run on the loop and the folds they trigger run on the worker."""
    longest_gap = longest_write = 0.0
    done = False

    async def ticker() -> None:
        nonlocal longest_gap
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            longest_gap = max(longest_gap, (now - last) * 1000)
            last = now

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    for i in range(writes):
        longest_write = max(longest_write, _timed(lambda i=i: users.set_lang(10**9 + i, "en")))
        await asyncio.sleep(0.001)
    await asyncio.to_thread(users.tables.settle)  # the fold's end, the loop still ticking
    done = True
    await ticking
    return longest_gap, longest_write


def measure(size: int, writes: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-stores-") as tmp:
        data = Path(tmp)
        subs = due_subscriptions(size, dt.datetime.now(dt.UTC), first_chat=1000)
        write_subscriptions(data, subs)
        opened = time.perf_counter()
        users = UserStore(data)
        store = SubscriptionStore(users.tables)
        open_ms = (time.perf_counter() - opened) * 1000
        try:
            langs = [_timed(lambda i=i: users.set_lang(i, "fr")) for i in range(writes)]
            pauses = [
                _timed(lambda s=s: store.set_active(s.chat_id, False)) for s in subs[:writes]
            ]
            fold = _timed(users.tables.compact)
            stall, worst_write = asyncio.run(_loop_stall(users, 1500))
        finally:
            users.close()
    print(
        f"{size:>7,} subscriptions: /lang p50 {statistics.median(langs):.2f} ms "
        f"(max {max(langs):.1f}), deactivate p50 {statistics.median(pauses):.2f} ms "
        f"(max {max(pauses):.1f}); compaction {fold:.0f} ms (a full rewrite: what every "
        f"write cost before the journal); open {open_ms:.0f} ms\n"
        f"{'':>23}with a fold on the worker: longest event-loop stall {stall:.1f} ms, "
        f"longest write {worst_write:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stores", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--writes", type=int, default=200)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    for size in args.sizes:
        measure(size, args.writes)


if __name__ == "__main__":
    main()
