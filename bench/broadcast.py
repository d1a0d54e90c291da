"""Digest broadcast against the Bot API double on 127.0.0.1: rate, exactness, memory, start-up.

    python -m bench.broadcast [--subscribers 10000] [--slow-subscribers 1830]

Every subscriber is due in the same minute. The bot side runs in this process, driven directly
(Services.open, then DigestService.sweep with the TelegramSender of an initialized
build_application), so timings are not blurred by polling; the double runs in a child process
so that the two do not share a GIL. Figures and targets:

* messages per second at a limit of 1000 msg/s (BOT_SEND_RATE): at least 95% of the limit, or
  the double's own ceiling if lower, measured in the same run with a plain concurrent httpx
  client sending the same digest text (the best of 4, 16 and 64 connections; a raw-socket
  client shows how much of that ceiling is httpx's own cost); the bot's CPU use tells whether
  the bot process itself is the limit;
* messages per second at 30 msg/s over at least 60 seconds: at least 28.5;
* duplicates and misses, counted from the messages the double recorded per chat: 0;
* peak RSS of this process (the bot) and of the double;
* start-up: Services.open plus the due computation over all subscriptions, with an empty ledger
  and with 1 and 7 days of ledger history; against it, creating one PTB job per subscriber
  (JobQueue.run_daily), which a job-per-subscriber design would pay at every start, and the
  per-minute sweep when nobody is due, which the sweep design pays instead.

Digests are the one-message "no new developments" note (content is imported before the
subscribers' last digest), so messages per second and digests per second are the same figure.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
from telegram.ext import ContextTypes

from bot.app.services import Services
from bot.config import Settings
from bot.core.clock import system_clock
from bot.core.domain import Subscription
from bot.core.schedule import decide
from bot.store.ledger import Ledger
from bot.tg.app import build_application
from bot.tg.delivery import TelegramSender
from bot.tg.render import render_html
from tests.conftest import CONTENT
from tests.support.botapi_double import BotApiDouble
from tests.support.seed import (
    after_content,
    digest_counts,
    due_subscriptions,
    import_content,
    register_chats,
    write_subscriptions,
)

FAST_FIRST_CHAT = 1001
SLOW_FIRST_CHAT = 200_001
CEILING_FIRST_CHAT = 900_001
# DigestService keeps up to its `concurrency` (default 8) requests in flight.
CEILING_CONNECTIONS = (4, 16, 64)


# ---- the double, in its own process ---------------------------------------------------------


def serve_double(conn: Connection) -> None:
    """Child process: runs the double and answers commands from the benchmark over a pipe."""
    with BotApiDouble(record_calls=False) as double:
        conn.send((double.token, double.base_url))
        while True:
            command, argument = conn.recv()
            if command == "register":
                register_chats(double, argument)
                conn.send(None)
            elif command == "counts":
                conn.send(digest_counts(double, argument))
            elif command == "messages":
                conn.send({chat: len(double.messages(chat)) for chat in argument})
            else:
                break
    conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


class DoubleProcess:
    """The double in a child process (spawned: nothing inherited, its own interpreter)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve_double, args=(child,), name="botapi-double")
        self._process.start()
        child.close()
        self.token, self.base_url = self._conn.recv()

    def _ask(self, command: str, argument: Any = None) -> Any:
        self._conn.send((command, argument))
        return self._conn.recv()

    @property
    def pid(self) -> int:
        pid = self._process.pid
        assert pid is not None
        return pid

    def register(self, chat_ids: Sequence[int]) -> None:
        self._ask("register", list(chat_ids))

    def digest_counts(self, chat_ids: Sequence[int]) -> dict[int, int]:
        counts: dict[int, int] = self._ask("counts", list(chat_ids))
        return counts

    def message_counts(self, chat_ids: Sequence[int]) -> dict[int, int]:
        """How many messages of any kind each chat received."""
        counts: dict[int, int] = self._ask("messages", list(chat_ids))
        return counts

    def stop(self) -> int:
        """Stops the double; returns its peak RSS in KiB."""
        peak: int = self._ask("stop")
        self._process.join(10)
        self._conn.close()
        self._process.close()
        return peak


# ---- measurements ---------------------------------------------------------------------------


@dataclass
class Broadcast:
    subscribers: int
    limit: float
    seconds: float
    sent: int
    duplicates: int
    misses: int
    report: str
    cpu_seconds: float  # this process's CPU time during the sweep

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    @property
    def cpu_share(self) -> float:
        """Share of one core the bot used during the sweep (1.0: CPU-bound on one core)."""
        return self.cpu_seconds / self.seconds


def _settings(double: DoubleProcess, data_dir: Path, rate: float) -> Settings:
    return Settings(
        telegram_token=double.token,
        telegram_api_base_url=double.base_url,
        data_dir=data_dir,
        content_dir=CONTENT,
        send_rate=rate,
    )


def _seed(data_dir: Path, count: int, first_chat: int, now: dt.datetime) -> list[Subscription]:
    import_content(data_dir, at=now - dt.timedelta(days=2))
    subs = due_subscriptions(count, now, first_chat=first_chat, last_sent_at=after_content(now))
    write_subscriptions(data_dir, subs)
    return subs


def due_now(services: Services, now: dt.datetime) -> list[Subscription]:
    """The selection DigestService.sweep starts with, through the same public calls."""
    catch_up = dt.timedelta(hours=services.settings.digest_catch_up_hours)
    due = []
    for sub in services.subscriptions.all():
        decision = decide(sub, now, False, catch_up)
        if decision is None or services.ledger.is_final(sub.chat_id, decision[1].local_date):
            continue
        due.append(services.digests.with_last_sent(sub))
    return due


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def startup(
    double: DoubleProcess, root: Path, count: int, history_days: Sequence[int]
) -> dict[str, float]:
    """Services.open and the first due computation, without and with days of ledger history."""
    figures: dict[str, float] = {}
    for days in sorted({0, *history_days}):
        data_dir = root / f"startup-{days}"
        now = dt.datetime.now(dt.UTC)
        subs = _seed(data_dir, count, FAST_FIRST_CHAT, now)
        if days:
            ledger = Ledger(data_dir, compact_every=10**9)
            for back in range(1, days + 1):
                at = now - dt.timedelta(days=back)
                for sub in subs:
                    ledger.record(sub.chat_id, at.date(), "sent", at)
            ledger.close()
        opened, services = timed(
            lambda d=data_dir: Services.open(_settings(double, d, 30.0), system_clock)
        )
        try:
            scanned, due = timed(lambda s=services, n=now: due_now(s, n))
        finally:
            services.close()
        assert len(due) == count, (len(due), count)
        figures[f"open {days}"] = opened
        figures[f"scan {days}"] = scanned
    return figures


def _ceiling_body(chat_id: int, text: str) -> dict[str, Any]:
    return {
        "chat_id": chat_id,
        "text": text,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }


async def httpx_ceiling(
    double: DoubleProcess, text: str, connections: int, seconds: float
) -> float:
    """sendMessage answers per second for a plain httpx client on ``connections`` connections."""
    url = f"{double.base_url}{double.token}/sendMessage"
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    done = 0
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(chat_id: int, until: float) -> None:
            nonlocal done
            body = _ceiling_body(chat_id, text)
            while time.perf_counter() < until:
                response = await client.post(url, json=body)
                response.raise_for_status()
                done += 1

        chats = range(CEILING_FIRST_CHAT, CEILING_FIRST_CHAT + connections)
        # A warm-up opens the connections, so the measured interval is steady state.
        warm = time.perf_counter() + 0.3
        await asyncio.gather(*(worker(chat, warm) for chat in chats))
        done = 0
        started = time.perf_counter()
        await asyncio.gather(*(worker(chat, started + seconds) for chat in chats))
        return done / (time.perf_counter() - started)


async def raw_ceiling(double: DoubleProcess, text: str, connections: int, seconds: float) -> float:
    """The same requests over bare asyncio streams: the double's capacity without httpx."""
    split = urlsplit(double.base_url)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    path = f"{split.path}{double.token}/sendMessage"
    done = 0

    async def worker(chat_id: int, until: float) -> None:
        nonlocal done
        body = json.dumps(_ceiling_body(chat_id, text)).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < until:
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.decode(errors="replace"))
                length = next(
                    int(line.partition(b":")[2])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                done += 1
        finally:
            writer.close()
            await writer.wait_closed()

    started = time.perf_counter()
    chats = range(CEILING_FIRST_CHAT, CEILING_FIRST_CHAT + connections)
    await asyncio.gather(*(worker(chat, started + seconds) for chat in chats))
    return done / (time.perf_counter() - started)


async def broadcast(
    double: DoubleProcess,
    root: Path,
    name: str,
    count: int,
    first_chat: int,
    rate: float,
    *,
    jobs: bool = False,
) -> tuple[Broadcast, float, float]:
    """One sweep owing ``count`` digests at ``rate`` msg/s.

    Returns the figures, the next minute's sweep time (nobody due) and, with ``jobs``, the time
    to create one daily job per subscriber on the same application's JobQueue.
    """
    data_dir = root / name
    now = dt.datetime.now(dt.UTC)
    subs = _seed(data_dir, count, first_chat, now)
    chats = [sub.chat_id for sub in subs]
    double.register(chats)
    settings = _settings(double, data_dir, rate)
    services = Services.open(settings, system_clock)
    app = build_application(settings)
    try:
        await app.initialize()
        sender = TelegramSender(app.bot)
        cpu_started, started = time.process_time(), time.perf_counter()
        report = await services.digests.sweep(sender, now)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        idle_started = time.perf_counter()
        idle = await services.digests.sweep(sender, now + dt.timedelta(minutes=1))
        idle_seconds = time.perf_counter() - idle_started
        assert not idle.counts, idle
        jobs_seconds = await daily_jobs(app, subs) if jobs else 0.0
    finally:
        await app.shutdown()
        services.close()
    counts = double.digest_counts(chats)
    result = Broadcast(
        subscribers=count,
        limit=rate,
        seconds=seconds,
        sent=sum(counts.values()),
        duplicates=sum(n - 1 for n in counts.values() if n > 1),
        misses=sum(1 for n in counts.values() if n == 0),
        report=str(report),
        cpu_seconds=cpu_seconds,
    )
    return result, idle_seconds, jobs_seconds


async def _noop(context: ContextTypes.DEFAULT_TYPE) -> None:
    """A job callback that never runs: the jobs are created and dropped."""


async def daily_jobs(app: Any, subs: Sequence[Subscription]) -> float:
    """Seconds to create one JobQueue.run_daily job per subscriber on a running scheduler."""
    job_queue = app.job_queue
    await job_queue.start()
    try:
        started = time.perf_counter()
        for sub in subs:
            at = sub.at.replace(tzinfo=ZoneInfo(sub.zone))
            job_queue.run_daily(_noop, at, name=f"digest-{sub.chat_id}", chat_id=sub.chat_id)
        return time.perf_counter() - started
    finally:
        await job_queue.stop(wait=False)


def _sample_digest_text(root: Path) -> str:
    now = dt.datetime.now(dt.UTC)
    [sub] = _seed(root / "sample", 1, FAST_FIRST_CHAT, now)
    services = Services.open(Settings(data_dir=root / "sample", content_dir=CONTENT), system_clock)
    try:
        reply = services.digests.compose(services.digests.with_last_sent(sub), now)
    finally:
        services.close()
    assert reply is not None
    [text] = render_html(reply)
    return text


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ---- report ---------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


async def run(args: argparse.Namespace) -> None:
    print(
        f"machine: {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs ({_cpu_model()})"
    )
    total = time.perf_counter()
    double = DoubleProcess()
    double_peak = 0
    try:
        with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as tmp:
            root = Path(tmp)
            text = _sample_digest_text(root)
            most = max(CEILING_CONNECTIONS)
            double.register(range(CEILING_FIRST_CHAT, CEILING_FIRST_CHAT + most))
            seconds = args.ceiling_seconds
            plain = {n: await httpx_ceiling(double, text, n, seconds) for n in CEILING_CONNECTIONS}
            raw = await raw_ceiling(double, text, most, seconds)
            fast, idle_seconds, jobs_seconds = await broadcast(
                double, root, "fast", args.subscribers, FAST_FIRST_CHAT, args.rate, jobs=True
            )
            rss_after_fast = _peak_rss_mib()
            boot = startup(double, root, args.subscribers, args.history_days)
            slow, _, _ = await broadcast(
                double, root, "slow", args.slow_subscribers, SLOW_FIRST_CHAT, args.slow_rate
            )
    finally:
        double_peak = double.stop()

    ceiling = max(plain.values())
    fast_target = min(0.95 * args.rate, ceiling)
    basis = (
        f"95% of {args.rate:g}"
        if 0.95 * args.rate <= ceiling
        else "the double's ceiling, under 95% of the limit"
    )
    fast_ok = fast.rate >= fast_target
    why = ""
    if not fast_ok and fast.cpu_share >= 0.75:
        why = f"; the bot's one core is the limit ({fast.cpu_share:.0%} busy)"
    slow_target = 0.95 * args.slow_rate
    slow_ok = slow.rate >= slow_target and slow.seconds >= 60
    duplicates, misses = fast.duplicates + slow.duplicates, fast.misses + slow.misses
    rows = [
        ("digest", "1 message", f"{len(text):,} chars of HTML, the same text for the ceiling"),
        (
            "double ceiling, plain httpx",
            f"{ceiling:,.0f} msg/s",
            ", ".join(f"{n} conns {rate:,.0f}" for n, rate in plain.items()),
        ),
        (
            "double alone, raw sockets",
            f"{raw:,.0f} msg/s",
            f"{most} conns, no httpx"
            + ("; httpx, not the double, sets the ceiling above" if raw > 1.5 * ceiling else ""),
        ),
        (
            f"{fast.subscribers:,} due @ {fast.limit:g} msg/s",
            f"{fast.rate:,.0f} msg/s",
            f"{fast.sent:,} in {fast.seconds:.1f} s; target {fast_target:,.0f} ({basis}): "
            f"{_verdict(fast_ok)}{why}",
        ),
        (
            "  bot CPU per message",
            f"{fast.cpu_seconds / max(fast.sent, 1) * 1000:.2f} ms",
            f"{fast.cpu_share:.0%} of one core during the sweep",
        ),
        (
            f"{slow.subscribers:,} due @ {slow.limit:g} msg/s",
            f"{slow.rate:.2f} msg/s",
            f"{slow.sent:,} in {slow.seconds:.1f} s; target {slow_target:.1f} over 60 s: "
            + _verdict(slow_ok),
        ),
        (
            "duplicates / misses",
            f"{duplicates} / {misses}",
            f"target 0 / 0: {_verdict(not (duplicates or misses))}; "
            f"sweeps: {fast.report} | {slow.report}",
        ),
        (
            "peak RSS, bot process",
            f"{rss_after_fast:,.0f} MiB",
            f"{fast.subscribers:,} digests and their jobs; "
            f"{_peak_rss_mib():,.0f} MiB at the end, after the start-up timings",
        ),
        ("peak RSS, double process", f"{double_peak / 1024:,.0f} MiB", ""),
        (
            "start-up, empty ledger",
            f"{boot['open 0'] + boot['scan 0']:.2f} s",
            f"Services.open {boot['open 0']:.2f} s + due scan {boot['scan 0']:.2f} s "
            f"({args.subscribers:,} subscriptions)",
        ),
    ]
    for days in sorted(set(args.history_days) - {0}):
        opened, scanned = boot[f"open {days}"], boot[f"scan {days}"]
        rows.append(
            (
                f"start-up, {days} day(s) of ledger",
                f"{opened + scanned:.2f} s",
                f"Services.open {opened:.2f} s + due scan {scanned:.2f} s "
                f"({days * args.subscribers:,} ledger entries)",
            )
        )
    rows += [
        (
            f"{fast.subscribers:,} run_daily jobs",
            f"{jobs_seconds:.2f} s",
            "a job per subscriber (JobQueue), paid at every start",
        ),
        (
            "sweep, nobody due",
            f"{idle_seconds * 1000:.0f} ms",
            "the sweep design's cost per minute",
        ),
        ("benchmark time", f"{time.perf_counter() - total:.0f} s", ""),
    ]
    width = max(len(row[0]) for row in rows)
    value_width = max(len(row[1]) for row in rows)
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>{value_width}}  {note}".rstrip())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast", description=__doc__)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="BOT_SEND_RATE, msg/s")
    # 1,830 at 30 msg/s: a burst of 30, then 60 s at the rate.
    parser.add_argument("--slow-subscribers", type=int, default=1830)
    parser.add_argument("--slow-rate", type=float, default=30.0)
    # Ledger history before the start-up timing; the ledger keeps 35 days.
    parser.add_argument("--history-days", type=int, nargs="*", default=[1, 7])
    parser.add_argument("--ceiling-seconds", type=float, default=3.0)
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
