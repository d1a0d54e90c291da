"""A real kill -9 of ``python -m bot run`` mid-broadcast, then a restart on the same data.

The bot runs as a subprocess against the Bot API double, sending one digest to each of 40
subscribers at 20 messages a second. Faults injected in the double decide exactly which sends
have taken effect when the kill lands, so each test knows what the restarted bot owes:

* every send after the 14th is held *before* it takes effect, so the kill lands outside the
  duplicate window and every subscriber ends with exactly one digest;
* the 15th send takes effect but its answer is held, so the kill lands inside the window that
  bot/digests/sweep.py names, and that one subscriber ends with two digests.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from bot.store.facts import FACTS_FILE
from bot.store.ledger import LEDGER_FILE
from bot.store.users import USERS_FILE
from tests import timetravel
from tests.conftest import REPO
from tests.support.botapi_double import BotApiDouble
from tests.support.seed import (
    after_content,
    before_content,
    digest_counts,
    due_subscriptions,
    import_content,
    journal_parts,
    journal_statuses,
    register_chats,
    write_subscriptions,
)

pytestmark = pytest.mark.e2e
SUBSCRIBERS = 40
BEFORE_KILL = 14  # sends that take effect before the kill
# Longer than any test: a held send stands for one that never reached Telegram.
HOLD = 120.0
WAIT = 30.0  # generous for slow machines; only reached when something is wrong


class BotProcess:
    """``python -m bot run`` on a data directory, its output kept in files (no pipe to fill)."""

    def __init__(self, double: BotApiDouble, data_dir: Path, log_dir: Path) -> None:
        self._env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **timetravel.child_env(),
            "TELEGRAM_BOT_TOKEN": double.token,
            "TELEGRAM_API_BASE_URL": double.base_url,
            "BOT_DATA_DIR": str(data_dir),
            "BOT_SEND_RATE": "20",
        }
        self._log_dir = log_dir
        self._runs = 0
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def start(self) -> None:
        self._runs += 1
        self._log = (self._log_dir / f"bot-{self._runs}.log").open("w", encoding="utf-8")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=REPO,
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def stop(self, sig: signal.Signals) -> int:
        """Sends ``sig``, waits for the exit and returns the exit status."""
        assert self._proc is not None and self._log is not None
        proc, log = self._proc, self._log
        self._proc = self._log = None
        try:
            if proc.poll() is None:
                proc.send_signal(sig)
            return proc.wait(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()

    def set_rate(self, per_second: float) -> None:
        """BOT_SEND_RATE for the next start."""
        self._env["BOT_SEND_RATE"] = str(per_second)

    @property
    def running(self) -> bool:
        return self._proc is not None

    def logs(self) -> str:
        return "\n".join(
            path.read_text(encoding="utf-8") for path in sorted(self._log_dir.glob("bot-*.log"))
        )


@pytest.fixture
def bot(double: BotApiDouble, tmp_path: Path) -> Iterator[BotProcess]:
    (tmp_path / "logs").mkdir()
    process = BotProcess(double, tmp_path / "data", tmp_path / "logs")
    yield process
    if process.running:  # a failed test left it running
        process.stop(signal.SIGKILL)


def _seed(double: BotApiDouble, data_dir: Path) -> list[int]:
    """40 subscribers due now, each owed a one-message digest (content imported before)."""
    now = dt.datetime.now(dt.UTC)
    import_content(data_dir, at=now - dt.timedelta(days=2))
    subs = due_subscriptions(SUBSCRIBERS, now, last_sent_at=after_content(now))
    write_subscriptions(data_dir, subs)
    chats = [sub.chat_id for sub in subs]
    register_chats(double, chats)
    return chats


def _recorded_chats(double: BotApiDouble) -> set[int]:
    return {int(call.params["chat_id"]) for call in double.calls("sendMessage") if call.ok}


def _journaled(parts: dict[int, int | None], chat: int) -> float:
    """Parts of the chat's digest the journal records as delivered; infinite once all are."""
    done = parts.get(chat, 0)
    return float("inf") if done is None else done


def _sent_in_journal(data_dir: Path) -> set[int]:
    """Chats whose digest is recorded as sent, in ledger.json (folded at each clean stop) or
    in the journal since. Safe to call while the bot runs."""
    statuses: dict[int, str] = {}
    try:
        folded = json.loads((data_dir / LEDGER_FILE).read_bytes()).get("deliveries", {})
    except (FileNotFoundError, ValueError):
        folded = {}
    for doc in folded.values():
        statuses[int(doc["chat"])] = str(doc["status"])
    statuses.update(journal_statuses(data_dir))
    return {chat for chat, status in statuses.items() if status == "sent"}


def _assert_files_parse(data_dir: Path) -> None:
    for name in (USERS_FILE, FACTS_FILE, LEDGER_FILE):
        path = data_dir / name
        if path.exists():
            json.loads(path.read_bytes())
    assert (data_dir / USERS_FILE).exists()


def _restart_until_all_served(
    double: BotApiDouble, bot: BotProcess, data_dir: Path, chats: list[int]
) -> int:
    """Restarts the bot, waits until every chat has a digest and the ledger says so, stops it."""
    bot.start()
    double.wait_for(
        lambda d: (
            all(digest_counts(d, chats).values()) and _sent_in_journal(data_dir) >= set(chats)
        ),
        timeout=WAIT,
        description="a digest in every chat after the restart",
    )
    return bot.stop(signal.SIGTERM)


def test_a_kill_outside_the_window_leaves_every_subscriber_exactly_one_digest(
    double: BotApiDouble, bot: BotProcess, tmp_path: Path
) -> None:
    """Killed while sends were in flight but none had reached Telegram: no duplicate, no miss.

    Every send after the 14th is held before it takes effect, for longer than the test, so
    when the kill lands each send has either been answered and journaled as sent, or never
    reached Telegram. The restarted bot owes exactly the subscribers still marked ``sending``.
    """
    data_dir = tmp_path / "data"
    chats = _seed(double, data_dir)
    # delay_next queues faults per method, each for the next `times` calls, in order: 14 calls
    # pass (a zero delay), then every later one is held. Holding only the 15th would let the
    # 16th, 17th ... take effect and race the kill.
    double.delay_next("sendMessage", 0.0, times=BEFORE_KILL, apply=True)
    double.delay_next("sendMessage", HOLD, times=10_000, apply=False)
    bot.start()
    double.wait_for(
        lambda d: (
            len(_recorded_chats(d)) == BEFORE_KILL
            and _sent_in_journal(data_dir) == _recorded_chats(d)
        ),
        timeout=WAIT,
        description=f"{BEFORE_KILL} digests sent and journaled",
    )
    first_exit = bot.stop(signal.SIGKILL)

    served = {chat for chat, n in digest_counts(double, chats).items() if n}
    assert served == _sent_in_journal(data_dir), "the kill landed outside the duplicate window"
    # Only the sends in flight are journaled as "sending"; the others had not started.
    owed = {chat for chat, status in journal_statuses(data_dir).items() if status == "sending"}
    assert owed and owed <= set(chats) - served
    _assert_files_parse(data_dir)
    before = len(served)

    double.clear_faults()
    second_exit = _restart_until_all_served(double, bot, data_dir, chats)
    counts = digest_counts(double, chats)
    print(f"digests: {before} before the kill, {sum(counts.values()) - before} after the restart")

    assert (first_exit, second_exit) == (-signal.SIGKILL, 0), bot.logs()
    assert counts == dict.fromkeys(chats, 1)
    _assert_files_parse(data_dir)
    # Stopping the double releases the held sends; they prove the kill found some in flight.
    double.stop()
    released = [c for c in double.calls("sendMessage") if c.fault == "delay"]
    assert len(released) > BEFORE_KILL


def test_a_kill_inside_the_known_window_duplicates_that_one_digest(
    double: BotApiDouble, bot: BotProcess, tmp_path: Path
) -> None:
    """The documented duplicate window, shown honestly: one subscriber gets two digests.

    bot/digests/sweep.py names it: a send that Telegram accepted just before the kill, whose
    outcome never reached the journal. Here the 15th send takes effect at once and its answer
    is held, so when the kill lands the message is delivered and the ledger still says
    ``sending``; the restarted bot sends that digest again. Every other subscriber gets one.
    """
    data_dir = tmp_path / "data"
    chats = _seed(double, data_dir)
    double.delay_next("sendMessage", 0.0, times=BEFORE_KILL, apply=True)
    double.delay_next("sendMessage", HOLD, times=1, apply=True)
    double.delay_next("sendMessage", HOLD, times=10_000, apply=False)
    bot.start()
    double.wait_for(
        lambda d: (
            len(_recorded_chats(d)) == BEFORE_KILL + 1
            and len(_sent_in_journal(data_dir)) == BEFORE_KILL
        ),
        timeout=WAIT,
        description="14 digests journaled and a 15th delivered whose answer is held",
    )
    first_exit = bot.stop(signal.SIGKILL)

    [in_window] = _recorded_chats(double) - _sent_in_journal(data_dir)
    assert journal_statuses(data_dir)[in_window] == "sending"
    _assert_files_parse(data_dir)

    double.clear_faults()
    second_exit = _restart_until_all_served(double, bot, data_dir, chats)

    assert (first_exit, second_exit) == (-signal.SIGKILL, 0), bot.logs()
    counts = digest_counts(double, chats)
    assert counts == {chat: 2 if chat == in_window else 1 for chat in chats}


def test_a_kill_between_the_parts_of_a_long_digest_leaves_exactly_one_digest(
    double: BotApiDouble, bot: BotProcess, tmp_path: Path
) -> None:
    """Full digests (three messages each), killed with no send in the duplicate window.

    As in the first test, sends after the 14th are held before they take effect; here the
    first 14 sends are first parts, so 14 subscribers have the start of their digest and the
    ledger says ``sending`` for them. Exactly one digest each is still the requirement.
    """
    data_dir = tmp_path / "data"
    now = dt.datetime.now(dt.UTC)
    # Their last digest predates every fact, so each digest is the full one.
    subs = due_subscriptions(SUBSCRIBERS, now, last_sent_at=before_content())
    write_subscriptions(data_dir, subs)
    chats = [sub.chat_id for sub in subs]
    register_chats(double, chats)
    double.delay_next("sendMessage", 0.0, times=BEFORE_KILL, apply=True)
    double.delay_next("sendMessage", HOLD, times=10_000, apply=False)
    bot.start()
    double.wait_for(
        lambda d: len(d.calls("sendMessage")) == BEFORE_KILL,
        timeout=WAIT,
        description=f"{BEFORE_KILL} sends answered",
    )
    # Kill only once the journal has heard of every part Telegram accepted: the kill then lands
    # between parts, outside the one-message window the digest module documents.
    double.wait_for(
        lambda d: all(
            _journaled(journal_parts(data_dir), chat) >= len(d.messages(chat))
            for chat in chats
            if d.messages(chat)
        ),
        timeout=WAIT,
        description="every delivered part journaled",
    )
    if bot.stop(signal.SIGKILL) != -signal.SIGKILL:
        pytest.fail(bot.logs())
    started = {chat for chat, n in digest_counts(double, chats).items() if n}
    partial = started - _sent_in_journal(data_dir)
    if not partial:
        pytest.fail("the kill landed after whole digests only, not between parts")

    double.clear_faults()
    if _restart_until_all_served(double, bot, data_dir, chats) != 0:
        pytest.fail(bot.logs())
    assert digest_counts(double, chats) == dict.fromkeys(chats, 1)


def test_sigterm_mid_broadcast_exits_promptly_and_the_rest_follow_after_restart(
    double: BotApiDouble, bot: BotProcess, tmp_path: Path
) -> None:
    """SIGTERM while 40 digests go out at 2 msg/s: the bot exits 0 within 10 s, every sent
    digest is in the ledger, and after a restart each subscriber has exactly one."""
    data_dir = tmp_path / "data"
    chats = _seed(double, data_dir)
    bot.set_rate(2)
    bot.start()
    double.wait_for(lambda d: len(_recorded_chats(d)) >= 3, timeout=WAIT)
    started = time.monotonic()
    assert bot.stop(signal.SIGTERM) == 0, bot.logs()
    assert time.monotonic() - started < 10
    delivered = _recorded_chats(double)
    assert len(delivered) < SUBSCRIBERS, "the broadcast was cut short"
    assert _sent_in_journal(data_dir) == delivered, "every delivered digest is recorded"
    _assert_files_parse(data_dir)
    bot.set_rate(50)
    assert _restart_until_all_served(double, bot, data_dir, chats) == 0
    assert digest_counts(double, chats) == dict.fromkeys(chats, 1)
