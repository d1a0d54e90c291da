"""Digest fan-out with one and with two sender processes on one PostgreSQL, against the Bot
API double, at a 1,000 msg/s limit shared through the database (bot/store/pg/sendrate.py).

    python -m bench.fleet [--subscribers 6000] [--rate 1000]

In one run: the double's own ceiling (a plain httpx client on 4 connections, the same digest
text, as bench/broadcast.py measures it), then for 1 and 2 sender processes a fresh database
with every subscriber due in the same minute. One process enqueues (FleetDigests.enqueue_due),
then all drain the queue at once with the real application's TelegramSender and
SharedRateLimiter. Figures: messages per second from the first claim to the last outcome,
their ratio to min(limit, ceiling), CPU per message in the senders, the double's peak over a
sliding second, duplicates and misses. Target: two processes reach 95% of min(limit, ceiling).
The double runs in its own process, PostgreSQL is started here (tests/support/postgres.py).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import multiprocessing
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.synchronize import Event
from pathlib import Path

from bench.broadcast import (
    CEILING_FIRST_CHAT,
    DoubleProcess,
    _sample_digest_text,
    httpx_ceiling,
)
from bot.app.services import Services
from bot.config import Settings
from bot.tg.app import build_application
from bot.tg.delivery import TelegramSender
from bot.tg.ratelimit import SharedRateLimiter
from tests.conftest import CONTENT
from tests.support.postgres import PostgresServer, server_binaries
from tests.support.seed import after_content, due_subscriptions, seed_postgres

FIRST_CHAT = 300_001


def _settings(token: str, base_url: str, url: str, data_dir: Path, rate: float) -> Settings:
    return Settings(
        telegram_token=token,
        telegram_api_base_url=base_url,
        data_dir=data_dir,
        content_dir=CONTENT,
        send_rate=rate,
        database_url=url,
    )


def sender_process(
    settings: Settings, now: dt.datetime, lead: bool, ready: Event, go: Event, out: object
) -> None:
    """Child: one bot process's digest side; reports (start, end, cpu seconds, sent)."""
    logging.basicConfig(level=logging.WARNING)  # httpx logs every request at INFO
    asyncio.run(_sender(settings, now, lead, ready, go, out))


async def _sender(
    settings: Settings, now: dt.datetime, lead: bool, ready: Event, go: Event, out: object
) -> None:
    services = Services.open(settings, lambda: now)
    app = build_application(settings)
    await app.initialize()
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, SharedRateLimiter) and services.fleet is not None
    limiter.shared = services.send_rate
    if lead:
        await services.fleet.enqueue_due(now)
    ready.set()
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    cpu, started = time.process_time(), time.time()
    report = await services.fleet.drain(TelegramSender(app.bot), now)
    ended = time.time()
    out.send((started, ended, time.process_time() - cpu, report.counts.get("sent", 0)))  # type: ignore[attr-defined]
    await app.shutdown()
    await services.aclose()


def fan_out(
    double: DoubleProcess, pg: PostgresServer, root: Path, processes: int, count: int, rate: float
) -> dict[str, float]:
    url = pg.new_database()
    now = dt.datetime.now(dt.UTC)
    first = FIRST_CHAT + processes * 1_000_000  # each run its own chats in the double
    subs = due_subscriptions(count, now, first_chat=first, last_sent_at=after_content(now))
    seed_postgres(url, subs, content_at=now - dt.timedelta(days=2))
    chats = [s.chat_id for s in subs]
    double.register(chats)
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    children = []
    for n in range(processes):
        ready = ctx.Event()
        parent, child = ctx.Pipe()
        settings = _settings(double.token, double.base_url, url, root / f"p{processes}-{n}", rate)
        proc = ctx.Process(target=sender_process, args=(settings, now, n == 0, ready, go, child))
        proc.start()
        ready.wait(120)
        children.append((proc, parent))
    go.set()
    results = [parent.recv() for _, parent in children]
    for proc, _ in children:
        proc.join(30)
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    sent = sum(r[3] for r in results)
    counts = double.digest_counts(chats)
    return {
        "rate": sent / (end - start),
        "seconds": end - start,
        "sent": sent,
        "cpu_ms": 1000 * sum(r[2] for r in results) / max(sent, 1),
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        "misses": sum(1 for n in counts.values() if n == 0),
        "per_process": float(len(results)),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=6000)
    parser.add_argument("--rate", type=float, default=1000.0)
    args = parser.parse_args(argv)
    bindir = server_binaries()
    if bindir is None:
        raise SystemExit("PostgreSQL's server binaries are needed: apt-get install postgresql")
    print(
        f"machine: {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        root = Path(tmp)
        pg = PostgresServer(bindir)
        pg.start()
        double = DoubleProcess()
        try:
            text = _sample_digest_text(root)
            double.register(list(range(CEILING_FIRST_CHAT, CEILING_FIRST_CHAT + 4)))
            ceiling = asyncio.run(httpx_ceiling(double, text, 4, 3.0))
            print(f"double ceiling, plain httpx, 4 conns  {ceiling:,.0f} msg/s")
            target = min(args.rate, ceiling)
            for processes in (1, 2):
                r = fan_out(double, pg, root, processes, args.subscribers, args.rate)
                ratio = r["rate"] / target
                print(
                    f"{processes} sender(s) @ {args.rate:.0f} msg/s  {r['rate']:,.0f} msg/s"
                    f"  {r['sent']:,.0f} in {r['seconds']:.1f} s, {ratio:.0%} of "
                    f"min(limit, ceiling) {target:,.0f}; {r['cpu_ms']:.2f} ms CPU/msg;"
                    f" duplicates {r['duplicates']:.0f}, misses {r['misses']:.0f}"
                )
        finally:
            double.stop()
            pg.close()


if __name__ == "__main__":
    main()
