"""Soak: simulated users send mixed updates to the real bot through the Bot API double.

    python -m bench.soak [--users 500] [--updates 20000] [--rate 200|max] [--quick]
                         [--profile bot.pstats] [--env NAME=VALUE] [--pg [--replicas 1,2]]

The bot is the real command line, ``python -m bot run`` (long polling on TinyDB files, JSON logs,
/metrics), in its own process: its RSS, CPU time and latency are its own. The Bot API double and
the load driver share this process; they are the "Telegram" side. Both ends of every latency
(the update enqueued, the bot's answer arriving) are read on the double's clock, so the figure is
what a user would see: polling, handling and sending included. This process freezes its own garbage
collector's view of what the double recorded (see Driver.run), or its full collections would
stall the double and be counted as bot latency.

Workload, per update: ~35% commands (/start, /brief [topic], /topics, /sources, /lang fr|en,
/help, /subscribe 07:30 Europe/Paris, /settings), ~45% questions (the last turn of each case in
tests/eval/questions.yaml, in the user's language), ~20% presses of buttons of messages the bot
actually sent that user. Each user starts with /start. Users are fr or en (with regional codes).
Updates go out at a steady rate, round-robin across users; a user sends again only once the bot
has answered their previous update and at most 15 times in any 10 s, under bot/app/flood.py's mute
(20 updates in 10 s), so no one should be muted; any flood warning is counted and reported.

Figures: handling latency per update (enqueue in the double -> the bot's first sendMessage or
answerCallbackQuery for that user after it) p50/p95/p99/max; unhandled errors (ERROR log lines,
tracebacks, the error handler's apologies, calls the double refused, a non-zero exit); RSS of the
bot sampled every second from /proc, mean of the first and of the last quarter of the run (by
updates handled); throughput, wall time, CPU; targets: 0 errors and RSS growth under 10%.

``--rate max`` offers updates as fast as the users may send them (each as soon as the bot
answered their previous one, within the 15-in-10-s rule, so at most users × 1.5 per second): the
bot's throughput, with a queue of up to one update per user, so latency is mostly queueing there.
``--profile FILE`` runs the bot under cProfile (its main thread) and prints where its CPU goes;
cProfile slows the bot roughly twofold, so the figures of such a run are not the bot's.

The bot runs with BOT_LOOP_PROBE (bot/app/loopprobe.py): its event loop's stalls (a 5 ms sleep
woken 10+ ms late), each split into the loop thread's own CPU (of which the cyclic collector's),
time it waited for a CPU (other processes, /proc/thread-self/schedstat) and time it was blocked
(a system call, the GIL held by another thread); the table ends with them. ``--env NAME=VALUE``
passes a variable to the bot, for A/B runs in one sitting.

``--pg`` starts a throw-away PostgreSQL server (tests/support/postgres.py, fsync on, as deployed)
and runs the bot in webhook mode on it, ``--replicas 1,2`` once per count, each on a fresh
database, in one run: N ``python -m bot run`` processes behind one URL and one secret, the double
pushing each update (Telegram's side of a webhook, 40 kept-alive connections) to the next replica
in turn, as a round-robin balancer would. CPU per update is the sum over the replicas, with
PostgreSQL's own (its server processes) beside it; RSS is the replicas' sum. The run ends with
one line per count, to compare them.

BOT_SEND_RATE is raised to --send-rate (1000, Telegram's paid-broadcast ceiling): at the default
30 msg/s, Telegram's own broadcast limit, the bot would be held to ~30 replies/s whatever its
capacity, and this benchmark measures the bot.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import json
import math
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from bot.i18n.translator import translator
from tests.conftest import REPO
from tests.eval.test_eval import load_cases
from tests.support.botapi_double import BotApiDouble, Call
from tests.support.postgres import PostgresServer, server_binaries
from tests.support.seed import DIGEST_TITLES

# bot/app/flood.py mutes past 20 updates in 10 s; users stay at 15 so that timing jitter between
# enqueueing and handling cannot push anyone over.
FLOOD_WINDOW = 10.0
PER_USER_IN_WINDOW = 15
WEBHOOK_SECRET = "soak-replicas-share-one-secret"  # one for all, as behind one balancer
LOST_AFTER = 30.0  # seconds without an answer: the update counts as unanswered
DRAIN_SECONDS = 40.0
SHARE_COMMANDS, SHARE_QUESTIONS = 0.35, 0.45  # buttons: the rest, 20%
FIRST_USER = 100_001
LANGUAGE_CODES = ("en", "fr", "en-US", "fr-FR", "en-GB", "fr-CA")
TOPICS = ("", "overview", "stakes", "revenue", "infrastructure", "ipo")
COMMANDS: tuple[Callable[[random.Random], str], ...] = (
    lambda _: "/start",
    lambda rng: f"/brief {rng.choice(TOPICS)}".rstrip(),
    lambda _: "/topics",
    lambda _: "/sources",
    lambda rng: f"/lang {rng.choice(('fr', 'en'))}",
    lambda _: "/help",
    lambda _: "/subscribe 07:30 Europe/Paris",
    lambda _: "/settings",
)


def _texts(msgid: str) -> tuple[str, ...]:
    return tuple(translator(lang).gettext(msgid) for lang in ("en", "fr"))


APOLOGIES = _texts("Sorry, something went wrong on my side. Please try again in a moment.")
FLOOD_WARNINGS = _texts("You are sending messages too fast; I will answer again in a moment.")


# ---- the simulated users ------------------------------------------------------------------------


@dataclass
class Pending:
    """An update sent and not answered yet (each user has at most one)."""

    ordinal: int
    kind: str  # command, question, button
    label: str  # the command, "question", or the button's verb (v1:brief)
    enqueued: float


@dataclass
class SimUser:
    user_id: int
    language_code: str
    recent: collections.deque[float] = field(default_factory=collections.deque)
    pending: Pending | None = None
    started: bool = False

    def ready(self, now: float) -> bool:
        while self.recent and now - self.recent[0] >= FLOOD_WINDOW:
            self.recent.popleft()
        return self.pending is None and len(self.recent) < PER_USER_IN_WINDOW


@dataclass(frozen=True)
class Answered:
    ordinal: int
    kind: str
    label: str
    enqueued: float
    seconds: float


class Driver:
    """Sends the updates through the double and matches the bot's answers to them."""

    def __init__(
        self,
        double: BotApiDouble,
        users: int,
        updates: int,
        questions: dict[str, list[str]],
        seed: int,
    ) -> None:
        self.double = double
        self.total = updates
        self.rng = random.Random(seed)
        self.users = [
            SimUser(FIRST_USER + i, LANGUAGE_CODES[i % len(LANGUAGE_CODES)]) for i in range(users)
        ]
        self.by_id = {u.user_id: u for u in self.users}
        self.turns = collections.deque(self.users)
        self.questions = questions
        # Every user's first update is /start; the other commands make up the rest of the 35%.
        self.p_command = max(0.0, (SHARE_COMMANDS * updates - users) / max(1, updates - users))
        self.sent = 0
        self.sent_by_kind: collections.Counter[str] = collections.Counter()
        self.handled = 0
        self.answered: list[Answered] = []
        self.lost: list[Pending] = []
        self.query_users: dict[str, int] = {}
        self.seen_calls = 0
        self.refused: collections.Counter[str] = collections.Counter()
        self.apologies = 0
        self.flood_warnings = 0
        self.digests = 0
        self.max_pending = 0
        self.waits_for_users = 0  # times no user was free when an update was due
        self.first_sent = 0.0
        self.last_answer = 0.0

    # ---- sending

    def pick(self, now: float) -> SimUser | None:
        for _ in range(len(self.turns)):
            user = self.turns[0]
            self.turns.rotate(-1)
            if user.ready(now):
                return user
        return None

    def send_one(self, user: SimUser) -> None:
        kind, text, button = self._choose(user)
        ordinal = self.sent
        enqueued = time.monotonic()
        if button is not None:
            message_id, data = button
            query_id = self.double.press_button(
                user.user_id, message_id, data, language_code=user.language_code
            )
            self.query_users[query_id] = user.user_id
        else:
            self.double.send_text(user.user_id, text, language_code=user.language_code)
        if not self.sent:
            self.first_sent = enqueued
        if kind == "command":
            label = text.split()[0]
        elif kind == "button" and button is not None:
            label = ":".join(button[1].split(":")[:2])
        else:
            label = kind
        user.pending = Pending(ordinal, kind, label, enqueued)
        user.recent.append(enqueued)
        self.sent += 1
        self.sent_by_kind[kind] += 1

    def _choose(self, user: SimUser) -> tuple[str, str, tuple[int, str] | None]:
        if not user.started:
            user.started = True
            return "command", "/start", None
        draw = self.rng.random()
        if draw < self.p_command:
            return "command", self.rng.choice(COMMANDS)(self.rng), None
        if draw < self.p_command + SHARE_QUESTIONS:
            pool = self.questions[user.language_code[:2]]
            return "question", self.rng.choice(pool), None
        keyboards = [m for m in self.double.messages(user.user_id) if m.callback_data][-3:]
        if not keyboards:
            return "command", "/start", None
        message = self.rng.choice(keyboards)
        return "button", "", (message.message_id, self.rng.choice(message.callback_data))

    # ---- answers

    def ingest(self) -> None:
        calls = self.double.calls()
        fresh, self.seen_calls = calls[self.seen_calls :], len(calls)
        for call in fresh:
            self._ingest(call)
        self.max_pending = max(self.max_pending, sum(u.pending is not None for u in self.users))

    def _ingest(self, call: Call) -> None:
        if not call.ok:
            self.refused[f"{call.method} {call.error_code} {call.description}"] += 1
        if call.method == "sendMessage":
            text = call.result.get("text", "") if isinstance(call.result, dict) else ""
            if text.startswith(APOLOGIES):
                self.apologies += 1
            if text.startswith(FLOOD_WARNINGS):
                self.flood_warnings += 1
            if text.startswith(DIGEST_TITLES):
                self.digests += 1  # a scheduled digest answers no update
                return
            chat_id = call.params.get("chat_id")
            if isinstance(chat_id, int):
                self._answer(chat_id, call.time)
        elif call.method == "answerCallbackQuery":
            user_id = self.query_users.pop(str(call.params.get("callback_query_id")), None)
            if user_id is not None:
                self._answer(user_id, call.time)

    def _answer(self, user_id: int, at: float) -> None:
        user = self.by_id.get(user_id)
        if user is None or user.pending is None or at < user.pending.enqueued:
            return  # a later part of an answer already counted
        pending, user.pending = user.pending, None
        self.answered.append(
            Answered(
                pending.ordinal,
                pending.kind,
                pending.label,
                pending.enqueued,
                at - pending.enqueued,
            )
        )
        self.handled += 1
        self.last_answer = max(self.last_answer, at)

    def expire(self, now: float) -> None:
        for user in self.users:
            if user.pending is not None and now - user.pending.enqueued > LOST_AFTER:
                self.lost.append(user.pending)
                user.pending = None

    @property
    def pending(self) -> int:
        return sum(u.pending is not None for u in self.users)

    # ---- the run

    def run(self, rate: float, progress: Callable[[str], None]) -> None:
        # An infinite rate: every free user sends at once, the bot's pace sets the rate.
        interval = 1.0 / rate
        retry = 0.002 if interval else 0.01
        next_at = time.monotonic()
        next_ingest = next_expire = next_report = next_at
        while self.sent < self.total:
            now = time.monotonic()
            if now >= next_ingest:
                self.ingest()
                next_ingest = now + 0.02
            if now >= next_expire:
                self.expire(now)
                # This process keeps every message and call the double recorded; full
                # collections over that growing heap reached 200+ ms, stalling the double's
                # threads (so the bot's requests), and showed up as bot latency. Frozen
                # objects are left out of collections: those stay short.
                gc.freeze()
                next_expire = now + 1.0
            if now >= next_report:
                progress(f"sent {self.sent:,}, answered {self.handled:,}, waiting {self.pending}")
                next_report = now + 10.0
            while self.sent < self.total and next_at <= now:
                user = self.pick(now)
                if user is None:
                    self.waits_for_users += 1
                    next_at = now + retry  # nobody free: try again shortly, keep no backlog
                    break
                self.send_one(user)
                next_at += interval
            # After a stall, resume at the rate rather than in a burst.
            next_at = max(next_at, now - 0.05)
            time.sleep(max(0.0, min(next_at, next_ingest) - time.monotonic()))
        deadline = time.monotonic() + DRAIN_SECONDS
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.02)
            self.ingest()
            self.expire(time.monotonic())
        self.ingest()
        for user in self.users:
            if user.pending is not None:
                self.lost.append(user.pending)
                user.pending = None


# ---- the bot process ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_status(pid: int, key: str) -> int | None:
    """A field of /proc/<pid>/status in KiB (VmRSS, VmHWM), None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used (not idle, not iowait), /proc/stat."""
    fields = Path("/proc/stat").read_text(encoding="ascii").splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int | None) -> float:
    """CPU time of a process, its children that exited and those alive (PostgreSQL's
    backends), from /proc."""
    if pid is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()
    total = sum(int(f) for f in fields[11:15]) / tick
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text(encoding="ascii").split():
                with contextlib.suppress(OSError, ValueError):
                    total += _cpu_seconds(int(child))
    return total


class RssSampler(threading.Thread):
    """VmRSS of the bots every second, with the number of updates handled at that moment."""

    def __init__(self, pids: Sequence[int], progress: Callable[[], int]) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pids = list(pids)
        self.progress = progress
        self.samples: list[tuple[int, int]] = []  # (updates handled, RSS KiB of all the bots)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while True:
            each = [_proc_status(pid, "VmRSS") for pid in self.pids]
            if None in each:
                return
            self.samples.append((self.progress(), sum(rss or 0 for rss in each)))
            if self._stop_event.wait(1.0):
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class BotProcess:
    """``python -m bot run`` against the double; stdout and stderr go to one log file."""

    def __init__(
        self,
        double: BotApiDouble,
        data_dir: Path,
        log: TextIO,
        send_rate: float,
        profile: Path | None = None,
        probe: Path | None = None,
        extra_env: Sequence[str] = (),
        database_url: str | None = None,
    ):
        self.http_port = _free_port()
        self.probe = probe
        # On PostgreSQL, webhook mode: replicas behind one balancer (the double's pushing).
        self.hook_port = _free_port() if database_url is not None else None
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TELEGRAM_BOT_TOKEN": double.token,
            "TELEGRAM_API_BASE_URL": double.base_url,
            "BOT_DATA_DIR": str(data_dir),
            "BOT_HTTP_PORT": str(self.http_port),
            "BOT_HTTP_LISTEN": "127.0.0.1",
            "BOT_LOG_FORMAT": "json",
            "BOT_SEND_RATE": f"{send_rate:g}",
        }
        if probe is not None:
            env["BOT_LOOP_PROBE"] = str(probe)
        if database_url is not None and self.hook_port is not None:
            env |= {
                "DATABASE_URL": database_url,
                "BOT_WEBHOOK_URL": "https://bot.example.test/hook",
                "BOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "BOT_WEBHOOK_LISTEN": "127.0.0.1",
                "BOT_WEBHOOK_PORT": str(self.hook_port),
            }
        env.update(item.partition("=")[::2] for item in extra_env)
        # cProfile writes its file when the bot returns from main, which SIGTERM lets it do.
        profiler = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
        self.proc = subprocess.Popen(
            [sys.executable, *profiler, "-m", "bot", "run"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.proc.pid

    @property
    def hook(self) -> str:
        return f"http://127.0.0.1:{self.hook_port}/hook"

    def wait_ready(self, double: BotApiDouble, timeout: float = 90.0) -> None:
        """Until the bot polls (long polling) or answers /readyz (webhook mode)."""
        deadline = time.monotonic() + timeout
        while not self._ready(double):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the bot exited with {self.proc.returncode} while starting")
            if time.monotonic() > deadline:
                raise TimeoutError("the bot did not get ready")
            time.sleep(0.05)

    def _ready(self, double: BotApiDouble) -> bool:
        if self.hook_port is None:
            return double.active_long_polls > 0
        try:
            response = httpx.get(f"http://127.0.0.1:{self.http_port}/readyz", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and bool(double.webhook()[0])

    def metrics(self) -> dict[str, float]:
        """partnerbrief_* samples from /metrics, keyed by name and labels."""
        response = httpx.get(f"http://127.0.0.1:{self.http_port}/metrics", timeout=10)
        response.raise_for_status()
        samples = {}
        for line in response.text.splitlines():
            if line.startswith("partnerbrief_") and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    samples[name] = float(value)
        return samples

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@dataclass
class LogSummary:
    lines: int = 0
    levels: collections.Counter[str] = field(default_factory=collections.Counter)
    tracebacks: int = 0
    not_json: list[str] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    warnings: collections.Counter[str] = field(default_factory=collections.Counter)

    def add(self, other: LogSummary) -> None:
        self.lines += other.lines
        self.levels.update(other.levels)
        self.tracebacks += other.tracebacks
        self.not_json += other.not_json
        self.errors.update(other.errors)
        self.warnings.update(other.warnings)


def read_log(path: Path) -> LogSummary:
    summary = LogSummary()
    with path.open(encoding="utf-8", errors="replace") as log:
        for line in log:
            line = line.rstrip("\n")
            if not line:
                continue
            summary.lines += 1
            if "Traceback" in line:
                summary.tracebacks += 1
            try:
                record = json.loads(line)
                level, message = str(record["level"]), str(record["message"])
            except (ValueError, KeyError, TypeError):
                summary.not_json.append(line)
                continue
            summary.levels[level] += 1
            if level in ("ERROR", "CRITICAL"):
                summary.errors[f"{record.get('logger')}: {message[:120]}"] += 1
            elif level == "WARNING":
                summary.warnings[f"{record.get('logger')}: {message[:120]}"] += 1
    return summary


# ---- figures ---------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.1f} MiB"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def load_questions() -> dict[str, list[str]]:
    pools: dict[str, list[str]] = {"en": [], "fr": []}
    for case in load_cases():
        lang = str(case.get("language_code") or "en")[:2]
        pools.setdefault(lang, []).append(str(case["turns"][-1]))
    everything = [q for pool in pools.values() for q in pool]
    return {lang: pools.get(lang) or everything for lang in ("en", "fr")}


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def soak(
    args: argparse.Namespace,
    replicas: int = 1,
    database_url: str | None = None,
    postgres: int | None = None,
) -> tuple[int, str]:
    """One run: ``replicas`` bots (one on TinyDB by default; on ``database_url``, in webhook
    mode; ``postgres`` the server's pid, for its CPU); prints its table, returns the exit status
    and a one-line summary."""

    def progress(text: str) -> None:
        print(f"  [{time.monotonic() - started:5.0f} s] {text}", file=sys.stderr, flush=True)

    started = time.monotonic()
    flood_cap = args.users * PER_USER_IN_WINDOW / FLOOD_WINDOW
    rate = args.rate if math.isinf(args.rate) else min(args.rate, flood_cap)
    questions = load_questions()
    with (
        tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp,
        BotApiDouble(record_calls=True) as double,
        contextlib.ExitStack() as logs_open,
    ):
        log_paths = [Path(tmp) / f"bot-{n}.log" for n in range(replicas)]
        launched = time.monotonic()
        bots = [
            BotProcess(
                double,
                Path(tmp) / f"data-{n}",
                logs_open.enter_context(path.open("w", encoding="utf-8")),
                args.send_rate,
                args.profile if n == 0 else None,
                Path(tmp) / f"loop-probe-{n}.json",
                args.env,
                database_url,
            )
            for n, path in enumerate(log_paths)
        ]
        pids = [bot.pid for bot in bots]
        sampler: RssSampler | None = None
        exit_codes: list[int] = []
        try:
            for bot in bots:
                bot.wait_ready(double)
            if database_url is not None:
                double.push_webhooks(bot.hook for bot in bots)
            startup = time.monotonic() - launched
            progress(f"{replicas} bot(s) ready after {startup:.1f} s (pids {pids})")
            driver = Driver(double, args.users, args.updates, questions, args.seed)
            sampler = RssSampler(pids, lambda: driver.handled)
            bot_cpu0 = sum(_cpu_seconds(pid) for pid in pids)
            own_cpu0, pg_cpu0 = time.process_time(), _tree_cpu_seconds(postgres)
            busy0, load_started = _machine_busy_seconds(), time.monotonic()
            sampler.start()
            try:
                driver.run(rate, progress)
            finally:
                gc.unfreeze()
            sampler.stop()
            load_end = time.monotonic()
            bot_cpu = sum(_cpu_seconds(pid) for pid in pids) - bot_cpu0
            own_cpu = time.process_time() - own_cpu0
            pg_cpu = _tree_cpu_seconds(postgres) - pg_cpu0
            others = _machine_busy_seconds() - busy0 - bot_cpu - own_cpu - pg_cpu
            others_share = max(0.0, others) / (load_end - load_started)
            peak = sum(_proc_status(pid, "VmHWM") or 0 for pid in pids)
            metrics: collections.Counter[str] = collections.Counter()
            for bot in bots:
                metrics.update(bot.metrics())
            push_failures = double.push_failures()
        finally:
            double.stop_pushing()
            if sampler is not None and sampler.is_alive():
                sampler.stop()
            exit_codes = [bot.stop() for bot in bots]
        internal = double.internal_errors()
        logs = LogSummary()
        for path in log_paths:
            logs.add(read_log(path))
        probes = [
            json.loads(bot.probe.read_text(encoding="utf-8"))
            for bot in bots
            if bot.probe is not None and bot.probe.exists()
        ]
        exit_code = next((code for code in exit_codes if code != 0), 0)
    wall = time.monotonic() - started

    # ---- latency
    load_seconds = max(driver.last_answer, driver.first_sent) - driver.first_sent
    latencies = sorted(a.seconds for a in driver.answered)
    by_kind: dict[str, list[float]] = collections.defaultdict(list)
    for a in driver.answered:
        by_kind[a.kind].append(a.seconds)
    quarter = max(1, args.updates // 4)
    by_quarter: dict[int, list[float]] = collections.defaultdict(list)
    for a in driver.answered:
        by_quarter[min(3, a.ordinal // quarter)].append(a.seconds)

    # ---- RSS, by updates handled
    first_q = [rss for n, rss in sampler.samples if n < quarter]
    last_q = [rss for n, rss in sampler.samples if n >= args.updates - quarter]
    growth = (
        (statistics.fmean(last_q) / statistics.fmean(first_q) - 1) * 100
        if first_q and last_q
        else float("nan")
    )

    # ---- errors
    error_lines = logs.levels["ERROR"] + logs.levels["CRITICAL"]
    refused = sum(driver.refused.values())
    unhandled = (
        error_lines
        + logs.tracebacks
        + driver.apologies
        + refused
        + len(internal)
        + len(push_failures)
        + (exit_code != 0)
    )

    mix = ", ".join(
        f"{driver.sent_by_kind[k]:,} {k}s ({driver.sent_by_kind[k] / max(1, driver.sent):.0%})"
        for k in ("command", "question", "button")
    )
    updates_metric = {
        key.partition('type="')[2].rstrip('"}'): int(value)
        for key, value in metrics.items()
        if key.startswith("partnerbrief_updates_total{")
    }
    rows: list[tuple[str, str, str]] = [
        (
            "layout",
            f"{replicas + 1} processes" + (" + PostgreSQL" if database_url else ""),
            (
                f"bot: `python -m bot run` (pid {pids[0]}, long polling, TinyDB files, "
                if database_url is None
                else f"{replicas} x `python -m bot run` (pids {pids}, webhook mode, one "
                "PostgreSQL, updates pushed round-robin over 40 connections, "
            )
            + "BOT_LOG_FORMAT=json); Bot API double + load driver: this process (the bot's "
            "RSS, CPU and latency are its own)",
        ),
        (
            "machine",
            f"{os.cpu_count()} CPUs",
            f"{platform.platform()}, Python {platform.python_version()}, {_cpu_model()}",
        ),
        ("workload", f"{driver.sent:,} updates", f"{args.users:,} users; {mix}"),
        (
            "offered rate",
            "max" if math.isinf(rate) else f"{rate:,.0f} upd/s",
            f"asked {args.rate:g}; cap {flood_cap:,.0f} ({PER_USER_IN_WINDOW} per user per "
            f"{FLOOD_WINDOW:g} s, one unanswered update per user); no free user "
            f"{driver.waits_for_users:,} times; BOT_SEND_RATE={args.send_rate:g}",
        ),
        (
            "handled",
            f"{driver.handled / max(load_seconds, 1e-9):,.1f} upd/s",
            f"{driver.handled:,} answered in {load_seconds:.1f} s; unanswered "
            f"{len(driver.lost)}; most waiting at once {driver.max_pending}",
        ),
        (
            "wall time",
            f"{wall:.1f} s",
            f"bot start to polling {startup:.1f} s, load {load_seconds:.1f} s, "
            f"stop + report {wall - (load_end - started):.1f} s",
        ),
    ]
    for label, share, note in (
        ("p50", 0.50, "enqueued in the double -> first sendMessage/answerCallbackQuery"),
        ("p95", 0.95, ""),
        ("p99", 0.99, ""),
        ("max", 1.0, ""),
    ):
        rows.append((f"latency {label}", _ms(percentile(latencies, share)), note))
    rows.append(
        (
            "  p99 by kind",
            "",
            ", ".join(
                f"{k} {_ms(percentile(sorted(by_kind[k]), 0.99))}"
                for k in ("command", "question", "button")
                if by_kind[k]
            ),
        )
    )
    by_label: dict[str, list[float]] = collections.defaultdict(list)
    for a in driver.answered:
        by_label[a.label].append(a.seconds)
    slowest = sorted(
        ((percentile(sorted(v), 0.99), k, len(v)) for k, v in by_label.items() if len(v) >= 20),
        reverse=True,
    )[:4]
    rows.append(
        (
            "  slowest p99",
            "",
            ", ".join(f"{label} {_ms(p99)} (n={n:,})" for p99, label, n in slowest),
        )
    )
    rows.append(
        (
            "  p99 by quarter",
            "",
            ", ".join(
                f"Q{q + 1} {_ms(percentile(sorted(by_quarter[q]), 0.99))}"
                for q in range(4)
                if by_quarter[q]
            ),
        )
    )
    rows += [
        (
            "unhandled errors",
            f"{unhandled}",
            f"ERROR log lines {error_lines}, Traceback lines {logs.tracebacks}, apologies "
            f"{driver.apologies}, refused calls {refused}, double internal errors "
            f"{len(internal)}, failed webhook deliveries {len(push_failures)}, exit code "
            f"{exit_code}; target 0: {_verdict(unhandled == 0)}",
        ),
        (
            "RSS first quarter",
            _mib(statistics.fmean(first_q)) if first_q else "n/a",
            f"mean of {len(first_q)} samples (1/s, VmRSS), updates 1-{quarter:,} handled",
        ),
        (
            "RSS last quarter",
            _mib(statistics.fmean(last_q)) if last_q else "n/a",
            f"mean of {len(last_q)} samples, updates {args.updates - quarter + 1:,}-"
            f"{args.updates:,} handled",
        ),
        ("RSS growth", f"{growth:+.1f}%", f"target < 10%: {_verdict(growth < 10)}"),
        (
            "RSS peak",
            _mib(peak),
            f"VmHWM; samples {_mib(min(r for _, r in sampler.samples))} - "
            f"{_mib(max(r for _, r in sampler.samples))}"
            if sampler.samples
            else "VmHWM",
        ),
        (
            "CPU",
            f"{bot_cpu / max(load_seconds, 1e-9):.0%} bot",
            f"of one core during the load ({bot_cpu / max(driver.handled, 1) * 1000:.2f} ms "
            f"per update{', all replicas' if replicas > 1 else ''}); "
            + (
                f"PostgreSQL {pg_cpu / max(load_seconds, 1e-9):.0%} "
                f"({pg_cpu / max(driver.handled, 1) * 1000:.2f} ms per update); "
                if postgres is not None
                else ""
            )
            + f"double + driver {own_cpu / max(load_seconds, 1e-9):.0%}; "
            f"other processes {others_share:.0%}"
            + (" (busy machine: figures disturbed)" if others_share > 0.1 else ""),
        ),
        (
            "flood control",
            f"{driver.flood_warnings} warnings",
            f"users muted by bot/app/flood.py (target 0); digests sent {driver.digests}",
        ),
        (
            "bot /metrics",
            f"{sum(updates_metric.values()):,} updates",
            ", ".join(f"{k} {v:,}" for k, v in sorted(updates_metric.items())),
        ),
        (
            "bot log",
            f"{logs.lines:,} lines",
            ", ".join(f"{k} {v:,}" for k, v in sorted(logs.levels.items()))
            + (f", not JSON {len(logs.not_json)}" if logs.not_json else ""),
        ),
    ]
    for n, probe in enumerate(probes):
        rows += probe_rows(probe, f" (replica {n + 1})" if replicas > 1 else "")
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>{value_width}}  {note}".rstrip(), flush=True)
    details = [
        *(f"  refused: {n} x {what}" for what, n in driver.refused.most_common(5)),
        *(f"  error log: {n} x {what}" for what, n in logs.errors.most_common(5)),
        *(f"  warning log: {n} x {what}" for what, n in logs.warnings.most_common(5)),
        *(f"  not JSON: {line[:160]}" for line in logs.not_json[:5]),
        *(f"  double internal error: {e[:160]}" for e in internal[:5]),
    ]
    for line in details:
        print(line, flush=True)
    if args.profile is not None and args.profile.exists():
        print_profile(args.profile)
    summary = (
        f"{replicas} x bot on {'PostgreSQL' if database_url else 'TinyDB'}: "
        f"{driver.handled / max(load_seconds, 1e-9):,.1f} upd/s handled, p99 "
        f"{_ms(percentile(latencies, 0.99))}, {bot_cpu / max(driver.handled, 1) * 1000:.2f} ms "
        f"CPU per update (bots)"
        + (
            f" + {pg_cpu / max(driver.handled, 1) * 1000:.2f} ms (PostgreSQL)"
            if postgres is not None
            else ""
        )
        + f", unhandled errors {unhandled}, other processes {others_share:.0%} of a core"
    )
    return (0 if unhandled == 0 and growth < 10 and not driver.lost else 1), summary


def probe_rows(probe: dict[str, Any], which: str = "") -> list[tuple[str, str, str]]:
    """The bot's event-loop stalls (bot/app/loopprobe.py), split by cause."""
    stalls = probe["stalls"]  # [at, late, cpu, gc, runqueue, blocked]
    tick = probe["tick"]
    late = sorted(s[1] for s in stalls)
    total = sum(late)
    # Each stall's interval is the tick plus its lateness; its causes add up to that interval.
    span = sum(s[1] + tick for s in stalls) or 1.0
    cpu, collected, queue, blocked = (sum(s[i] for s in stalls) for i in (2, 3, 4, 5))
    gcs = probe["gc"]
    rows = [
        (
            f"loop stalls{which}",
            f"{len(stalls):,}",
            f"wake-ups {probe['stall_from'] * 1000:.0f}+ ms late of {probe['ticks']:,} "
            f"({tick * 1000:.0f} ms sleeps); {total:.2f} s late in all over "
            f"{probe['seconds']:.0f} s; p50 {_ms(percentile(late, 0.5))}, p99 "
            f"{_ms(percentile(late, 0.99))}, max {_ms(late[-1] if late else 0.0)}; "
            f"{sum(x >= 0.05 for x in late)} of 50+ ms",
        ),
        (
            "  stall causes",
            "",
            f"own CPU {cpu / span:.0%} (of which GC {collected / span:.0%}), waiting for a CPU "
            f"{queue / span:.0%}, blocked (syscalls, GIL) {max(0.0, blocked) / span:.0%}",
        ),
        (
            "  collections",
            f"{sum(gcs['seconds']):.2f} s",
            ", ".join(
                f"gen {g}: {gcs['count'][g]:,} x, {gcs['seconds'][g] * 1000:,.0f} ms, longest "
                f"{gcs['longest'][g] * 1000:.1f} ms"
                for g in range(3)
            )
            + f"; thresholds {gcs['thresholds']}, frozen {gcs['frozen']:,}"
            + (f", tracked at stop {gcs['tracked']:,}" if "tracked" in gcs else ""),
        ),
    ]
    worst = sorted(stalls, key=lambda s: s[1], reverse=True)[:5]
    rows.append(
        (
            "  worst stalls",
            "",
            "; ".join(
                f"{s[1] * 1000:.0f} ms at {s[0]:.0f} s (cpu {s[2] * 1000:.0f}, gc "
                f"{s[3] * 1000:.0f}, cpu wait {s[4] * 1000:.0f}, blocked {s[5] * 1000:.0f})"
                for s in worst
            ),
        )
    )
    return rows


def _rate(value: str) -> float:
    if value == "max":
        return math.inf
    rate = float(value)
    if not rate > 0:
        raise argparse.ArgumentTypeError("a rate above 0, or max")
    return rate


def print_profile(path: Path, top: int = 30) -> None:
    """The bot's functions by own time and by time inside them, from cProfile's file."""
    import pstats

    stats = pstats.Stats(str(path), stream=sys.stdout)
    stats.strip_dirs()
    print(f"\ncProfile of the bot's main thread ({path}), by own time:")
    stats.sort_stats("tottime").print_stats(top)
    print("by time inside (cumulative):")
    stats.sort_stats("cumulative").print_stats(top)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument(
        "--rate",
        type=_rate,
        default=200.0,
        help="updates per second offered, or max: as fast as the users may send",
    )
    parser.add_argument("--send-rate", type=float, default=1000.0, help="BOT_SEND_RATE, msg/s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="FILE",
        help="run the bot under cProfile, save its stats in FILE and print the top functions",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the bot, for A/B runs in one sitting",
    )
    parser.add_argument(
        "--pg",
        action="store_true",
        help="on a throw-away PostgreSQL server (tests/support/postgres.py), in webhook mode",
    )
    parser.add_argument(
        "--replicas",
        type=_counts,
        default=[1],
        metavar="N[,N...]",
        help="with --pg: bot processes sharing the database, one run per count (1,2)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 users, 2000 updates")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.updates = 50, 2000
    if args.users < 1 or args.updates < args.users:
        parser.error("need at least one user and at least one update per user")
    if not args.pg:
        if args.replicas != [1]:
            parser.error("--replicas needs --pg: several replicas share one PostgreSQL")
        return soak(args)[0]
    bindir = server_binaries()
    if bindir is None:
        parser.error("--pg needs PostgreSQL's server binaries: apt-get install postgresql")
    server = PostgresServer(bindir)
    statuses, summaries = [], []
    try:
        # fsync on, as a deployment runs it: the writers' commits are part of the cost.
        server.start(durable=True)
        postmaster = int((server.datadir / "postmaster.pid").read_text().split()[0])
        for count in args.replicas:
            status, summary = soak(args, count, server.new_database(), postmaster)
            statuses.append(status)
            summaries.append(summary)
            print(flush=True)
    finally:
        server.close()
    print("in this run:")
    for summary in summaries:
        print(f"  {summary}")
    return max(statuses)


def _counts(value: str) -> list[int]:
    try:
        counts = [int(part) for part in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("replica counts separated by commas: 1,2") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("each replica count is 1 or more")
    return counts


if __name__ == "__main__":
    sys.exit(main())
