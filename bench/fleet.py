"""Digest fan-out with one and with two sender processes on one PostgreSQL, against the Bot
API double, at a 1,000 msg/s limit shared through the database (bot/store/pg/sendrate.py).

    python -m bench.fleet [--subscribers 6000] [--rate 1000] [--profile DIR]

In one run: the double's own ceiling (a plain httpx client, the same digest text, the best of
4 and 16 connections, as bench/broadcast.py measures it), before the fan-outs and again after
them (the machine is shared: the higher one is the reference); then for 1 and 2 sender
processes a fresh database with every subscriber due in the same minute. One process enqueues
(FleetDigests.enqueue_due), then all drain the queue at once with the real application's
TelegramSender and SharedRateLimiter. Figures: messages per second from the first claim to
the last outcome and their ratio to min(limit, ceiling); CPU per message of the senders, the
double and PostgreSQL (postmaster and backends) from /proc/<pid>/stat over the same interval,
and how many of the machine's cores were busy (/proc/stat); how long the busiest sender, and
the double's threads, were ready to run but waited for a CPU (/proc/<pid>/task/*/schedstat:
the machine's contention, as opposed to waits on the network or the database); rate slots
reserved and dropped unused; duplicates and misses. ``--profile`` writes each sender's
cProfile (CPU time) of its drain. Target: two processes reach 95% of min(limit, ceiling).
The double runs in its own process, PostgreSQL is started here (tests/support/postgres.py).

What limits it on this 2-core machine (docs/DIGESTS.md, "Benchmark", has the figures): the
CPU. With two senders a message costs 1.1-1.4 ms of CPU in a sender, 0.5 ms in the double
and 0.3 ms in PostgreSQL, 1.9-2.2 ms in all, so 950 msg/s would need 1.8-2.1 of the
machine's 2 cores for these processes alone: barely possible on an idle machine, not with
other engineers' runs on it, when each sender waits for a CPU half of its time or more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import logging
import multiprocessing
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

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
    settings: Settings,
    now: dt.datetime,
    lead: bool,
    ready: Event,
    go: Event,
    out: object,
    profile: Path | None,
) -> None:
    """Child: one bot process's digest side; reports (start, end, cpu seconds, sent)."""
    quiet_logging()
    asyncio.run(_sender(settings, now, lead, ready, go, out, profile))


def quiet_logging() -> None:
    # Before anything imports wordllama, whose __init__ calls basicConfig(level=INFO): httpx
    # would then log every request, a cost the bot (bot/app/logsetup.py) does not pay.
    logging.basicConfig(level=logging.WARNING)


def proc_cpu(pid: int | str = "self") -> float:
    """utime + stime of one process, in seconds, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_wait(pid: int | str = "self") -> float:
    """Seconds the threads of a process spent runnable but waiting for a CPU, from
    /proc/<pid>/task/*/schedstat (its second field): the machine's contention, apart from
    the process's own work and its waits on the network."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError):
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores, from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks[:8]) - idle) / hz, sum(ticks[:8]) / hz


def server_pids(pg: PostgresServer) -> list[int]:
    """The postmaster and every backend it forked (their CPU is the database's)."""
    master = int((pg.datadir / "postmaster.pid").read_text().split()[0])
    pids = [master]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(stat[1]) == master:
                pids.append(int(entry.name))
    return pids


async def _sender(
    settings: Settings,
    now: dt.datetime,
    lead: bool,
    ready: Event,
    go: Event,
    out: object,
    profile: Path | None,
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
    # CPU time, not wall time: on a shared machine the wall clock mostly counts the others.
    profiler = cProfile.Profile(time.process_time) if profile is not None else None
    cpu, waited, started = proc_cpu(), cpu_wait(), time.time()
    if profiler is not None:
        profiler.enable()
    report = await services.fleet.drain(TelegramSender(app.bot), now)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    ended = time.time()
    dropped = services.send_rate.dropped if services.send_rate is not None else 0
    sent = report.counts.get("sent", 0)
    out.send((started, ended, proc_cpu() - cpu, sent, dropped, cpu_wait() - waited))  # type: ignore[attr-defined]
    await app.shutdown()
    await services.aclose()


def fan_out(
    double: DoubleProcess,
    pg: PostgresServer,
    root: Path,
    processes: int,
    count: int,
    rate: float,
    profile: Path | None = None,
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
        prof = profile / f"sender-{processes}-{n}.prof" if profile is not None else None
        proc = ctx.Process(
            target=sender_process, args=(settings, now, n == 0, ready, go, child, prof)
        )
        proc.start()
        ready.wait(120)
        children.append((proc, parent))
    # The others' CPU over the same interval: the double, PostgreSQL, the whole machine.
    before = (proc_cpu(double.pid), _cpus(server_pids(pg)), machine_busy(), cpu_wait(double.pid))
    go.set()
    results = [_result(proc, parent) for proc, parent in children]
    after = (proc_cpu(double.pid), _cpus(server_pids(pg)), machine_busy(), cpu_wait(double.pid))
    load = os.getloadavg()[0]
    # Backends the senders' pools opened during the run count from zero.
    database = sum(cpu - before[1].get(pid, 0.0) for pid, cpu in after[1].items())
    for proc, _ in children:
        proc.join(30)
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    sent = sum(r[3] for r in results)
    counts = double.digest_counts(chats)
    seconds = end - start
    return {
        "rate": sent / seconds,
        "seconds": seconds,
        "sent": sent,
        "cpu_ms": 1000 * sum(r[2] for r in results) / max(sent, 1),
        "sender_cores": max(r[2] / (r[1] - r[0]) for r in results),
        # Share of a sender's wall time it was ready to run but had no CPU (the busiest one).
        "sender_starved": max(r[5] / (r[1] - r[0]) for r in results),
        "double_starved": (after[3] - before[3]) / seconds,
        "double_ms": 1000 * (after[0] - before[0]) / max(sent, 1),
        "double_cores": (after[0] - before[0]) / seconds,
        "pg_ms": 1000 * database / max(sent, 1),
        "pg_cores": database / seconds,
        "load": load,
        "machine_cores": (after[2][0] - before[2][0]) / seconds,
        "dropped": sum(r[4] for r in results),
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        "misses": sum(1 for n in counts.values() if n == 0),
    }


def _result(proc: multiprocessing.process.BaseProcess, pipe: Connection) -> Any:
    """A sender's report; a sender that died says so instead of leaving the bench waiting."""
    while not pipe.poll(1.0):
        if not proc.is_alive():
            raise SystemExit(f"a sender process died (exit code {proc.exitcode})")
    return pipe.recv()


def _cpus(pids: Sequence[int]) -> dict[int, float]:
    cpus = {}
    for pid in pids:
        with contextlib.suppress(OSError):  # a backend that ended: its CPU is not counted
            cpus[pid] = proc_cpu(pid)
    return cpus


def _ceiling(double: DoubleProcess, text: str) -> float:
    return max(asyncio.run(httpx_ceiling(double, text, n, 3.0)) for n in (4, 16))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=6000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--profile", type=Path, help="write each sender's cProfile stats here")
    args = parser.parse_args(argv)
    quiet_logging()
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
            double.register(list(range(CEILING_FIRST_CHAT, CEILING_FIRST_CHAT + 16)))
            ceilings = [_ceiling(double, text)]
            results = {}
            for processes in (1, 2):
                r = fan_out(double, pg, root, processes, args.subscribers, args.rate, args.profile)
                results[processes] = r
            # The machine is shared: the ceiling is measured before and after, and the higher
            # one is the reference (the harder target).
            ceilings.append(_ceiling(double, text))
            ceiling = max(ceilings)
            print(
                "double ceiling, plain httpx, best of 4 and 16 connections, 3 s each: "
                + ", then ".join(f"{c:,.0f}" for c in ceilings)
                + " msg/s"
            )
            target = min(args.rate, ceiling)
            for processes, r in results.items():
                ratio = r["rate"] / target
                print(
                    f"{processes} sender(s) @ {args.rate:.0f} msg/s  {r['rate']:,.0f} msg/s"
                    f"  {r['sent']:,.0f} in {r['seconds']:.1f} s, {ratio:.0%} of "
                    f"min(limit, ceiling) {target:,.0f}; duplicates {r['duplicates']:.0f},"
                    f" misses {r['misses']:.0f}, rate slots dropped {r['dropped']:.0f}\n"
                    f"    CPU per message: senders {r['cpu_ms']:.2f} ms (busiest at"
                    f" {r['sender_cores']:.2f} core), double {r['double_ms']:.2f} ms"
                    f" ({r['double_cores']:.2f} core), PostgreSQL {r['pg_ms']:.2f} ms"
                    f" ({r['pg_cores']:.2f} core); whole machine {r['machine_cores']:.2f}"
                    f" of {os.cpu_count()} cores busy, load {r['load']:.1f}\n"
                    f"    waiting for a CPU: the busiest sender {r['sender_starved']:.0%} of the"
                    f" time, the double's threads {r['double_starved']:.2f} s per second"
                )
        finally:
            double.stop()
            pg.close()


if __name__ == "__main__":
    main()
