"""A poll of 50 local feeds: time per cycle, the event loop's longest stall, RSS before/after.

    python -m bench.feeds [--feeds 50] [--cycles 40]

The feeds are served over real HTTP on 127.0.0.1 (tests/support/feed_server.py, in a child
process, so that serving them takes no turns from the measured event loop) and polled by the
real intake (bot/newsroom/poller.py) on a real newsroom.json. They look like real ones:
20-60 items each with summaries of a few hundred characters to two thousand (30-150 KB a
body), one story in five about the subject, stories shared between feeds under other
headlines and links; 30 feeds never change (each poll after the first is a 304), the other
20 publish two new items between polls and drop their oldest. The clock moves one interval
per cycle, so every feed is due every cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import multiprocessing
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from bot.content.feeds import FeedSpec
from bot.content.lexicon import load_lexicon
from bot.content.loader import load_library
from bot.newsroom.fetch import new_client
from bot.newsroom.poller import Intake
from bot.newsroom.relevance import Relevance
from bot.store.candidates import CandidateStore
from bot.store.feeds import SeenKeys
from tests.support.feed_server import FeedItem, FeedServer, rss

CONTENT = Path(__file__).resolve().parent.parent / "content"
INTERVAL = dt.timedelta(minutes=30)
T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)
SUBJECT = [
    "Microsoft and OpenAI revise their partnership terms, story {n}",
    "OpenAI prépare son introduction en Bourse, épisode {n}",
    "SoftBank adds {n} billion dollars to OpenAI's funding round",
    "Microsoft's stake in OpenAI Group PBC under review, part {n}",
]
OTHER = [
    "A new phone is announced by a hardware maker, item {n}",
    "Météo : un week-end pluvieux sur la côte, numéro {n}",
    "Football results of the weekend, round {n}",
    "Microsoft unveils a new Xbox controller, model {n}",
    "A startup raises a seed round for its app, number {n}",
]
WORDS = [
    "the",
    "company",
    "said",
    "on",
    "Tuesday",
    "that",
    "its",
    "plans",
    "for",
    "the",
    "coming",
    "year",
    "include",
    "several",
    "new",
    "products",
    "and",
    "a",
    "wider",
    "presence",
    "in",
    "Europe",
    "while",
    "analysts",
    "expect",
    "growth",
    "to",
    "slow",
]


def rss_mib() -> float:
    fields = Path("/proc/self/status").read_text().split("\n")
    line = next(f for f in fields if f.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _summary(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(3, 18)):
        words = rng.choices(WORDS, k=rng.randint(8, 20))
        sentences.append(" ".join(words).capitalize() + ".")
    return "<p>" + " ".join(sentences) + "</p>"


def _item(feed: int, n: int, rng: random.Random) -> FeedItem:
    # A shared story: the same headline (give or take the outlet's suffix) in several feeds.
    shared = n % 7 == 0
    story = n if shared else feed * 10_000 + n
    template = SUBJECT[story % len(SUBJECT)] if story % 5 == 0 else OTHER[story % len(OTHER)]
    title = template.format(n=story) + (f" - Outlet {feed}" if shared else "")
    return FeedItem(
        title,
        f"https://outlet{feed}.example/{story}?utm_source=rss",
        f"feed{feed}-{n}",
        _summary(rng),
        T0 - dt.timedelta(minutes=n),
    )


def _changing(feed: int, size: int, rng: random.Random) -> Callable[[int], bytes]:
    items = [_item(feed, n, rng) for n in range(size)]

    def body(count: int) -> bytes:
        fresh = [_item(feed, size + 2 * count + k, rng) for k in range(2)]
        items[:0] = fresh
        del items[size:]
        return rss(items, f"Feed {feed}")

    return body


async def _heartbeat(stalls: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        stalls.append(now - last - 0.005)
        last = now


def serve(feed_count: int, conn: Connection) -> None:
    """In the child: serve the feeds, say the port and sizes, answer 'stats' with counts."""
    rng = random.Random(14)
    with FeedServer() as server:
        sizes = []
        for feed in range(feed_count):
            size = rng.randint(20, 60)
            if feed < feed_count * 3 // 5:
                body = rss([_item(feed, n, rng) for n in range(size)], f"Feed {feed}")
                sizes.append(len(body))
                server.feed(f"/feed{feed}.xml", body)
            else:
                changing = _changing(feed, size, rng)
                sizes.append(len(changing(0)))
                server.feed(f"/feed{feed}.xml", changing)
        conn.send((server.url("/"), sizes))
        conn.recv()  # asked for the counts when the polling is over
        answers = [r.answered for r in server.requests]
        conn.send((answers.count(200), answers.count(304)))


async def bench(feed_count: int, cycles: int) -> None:
    library, lexicon = load_library(CONTENT), load_lexicon(CONTENT)
    relevance = Relevance.of(library, lexicon)
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(feed_count, child), daemon=True)
    server.start()
    base, sizes = parent.recv()
    with tempfile.TemporaryDirectory() as data:
        specs = [
            FeedSpec(f"Outlet {feed}", f"{base}feed{feed}.xml", INTERVAL)
            for feed in range(feed_count)
        ]
        now = [T0]
        store = CandidateStore.open(Path(data))
        intake = Intake(
            specs,
            store,
            new_client(20.0),
            lambda: now[0],
            lambda: relevance,
            timeout=20.0,
            max_bytes=2_000_000,
        )
        gc.collect()
        before = rss_mib()
        # The machine's own noise: the same heartbeat with nothing to poll.
        idle: list[float] = []
        stop_idle = asyncio.Event()
        idle_beat = asyncio.create_task(_heartbeat(idle, stop_idle))
        await asyncio.sleep(2)
        stop_idle.set()
        await idle_beat
        idle.sort()
        times: list[float] = []
        stalls: list[float] = []
        rss_after_first = 0.0
        for cycle in range(cycles):
            stop = asyncio.Event()
            beat = asyncio.create_task(_heartbeat(stalls, stop))
            start = time.perf_counter()
            report = await intake.poll_due()
            times.append(time.perf_counter() - start)
            stop.set()
            await beat
            assert report.polled == feed_count, report
            if cycle == 0:
                rss_after_first = rss_mib()
            now[0] += INTERVAL
        gc.collect()
        after = rss_mib()
        parent.send("stats")
        ok, not_modified = parent.recv()
        server.join(10)
        print(f"feeds: {feed_count}, cycles: {cycles}")
        print(
            f"body sizes: median {statistics.median(sizes) / 1024:.0f} KiB, "
            f"max {max(sizes) / 1024:.0f} KiB"
        )
        print(f"answers: {ok} x 200, {not_modified} x 304")
        print(f"first cycle (everything new): {times[0] * 1000:.0f} ms")
        rest = sorted(times[1:])
        if rest:
            print(
                f"later cycles: median {statistics.median(rest) * 1000:.0f} ms, "
                f"max {rest[-1] * 1000:.0f} ms"
            )
        stalls.sort()
        print(
            f"event loop stalls: median {statistics.median(stalls) * 1000:.1f} ms, "
            f"p99 {stalls[int(len(stalls) * 0.99)] * 1000:.1f} ms, "
            f"max {stalls[-1] * 1000:.1f} ms"
        )
        print(
            f"idle loop, same heartbeat: median {statistics.median(idle) * 1000:.1f} ms, "
            f"p99 {idle[int(len(idle) * 0.99)] * 1000:.1f} ms, max {idle[-1] * 1000:.1f} ms"
        )
        print(f"candidates: {len(store.all())}, item keys seen: {len(SeenKeys(store.tables))}")
        print(f"RSS before: {before:.1f} MiB, after cycle 1: {rss_after_first:.1f} MiB, ", end="")
        print(f"after {cycles}: {after:.1f} MiB")
        await intake.aclose()
        store.close()


def main() -> None:
    multiprocessing.set_start_method("fork")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(bench(args.feeds, args.cycles))


if __name__ == "__main__":
    main()
