"""What one user-facing store write costs, with 10,000 and 100,000 subscribers in users.json.

    python -m bench.stores [--sizes 10000 100000] [--writes 200]

A /lang or a /subscribe is one write; before the journal (bot/store/journal.py) each rewrote
the whole file, and the bot's event loop waited for it. Figures: the median and the worst of
``--writes`` writes of each kind (the worst includes a compaction, a full rewrite, when one
falls inside), the time to fold the journal into the file, and the time to open the store.
"""

from __future__ import annotations

import argparse
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
        finally:
            users.close()
    print(
        f"{size:>7,} subscriptions: /lang p50 {statistics.median(langs):.2f} ms "
        f"(max {max(langs):.1f}), deactivate p50 {statistics.median(pauses):.2f} ms "
        f"(max {max(pauses):.1f}); compaction {fold:.0f} ms (a full rewrite: what every "
        f"write cost before the journal); open {open_ms:.0f} ms"
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
