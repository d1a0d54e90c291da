"""Three bot processes in webhook mode on one PostgreSQL, against the Bot API double over
real HTTP: 3,000 subscribers due in the same minute each get exactly one digest, though one
replica is killed with SIGKILL mid fan-out, and the sends of all three together never exceed
the per-token rate in any sliding second.

The kill lands outside the duplicate window, on purpose and for sure: the double answers
every send with a 429 (retry after 1 s) for a moment, so nothing is taking effect while
the test waits until the database records every accepted send, then kills. (That 429 also
pauses every replica through the shared rate.) The window itself is shown for the embedded
ledger by tests/tg/test_digest_crash.py; the queue's is the same message, see docs/DIGESTS.md.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import psycopg
import pytest

from tests import timetravel
from tests.conftest import REPO
from tests.support.botapi_double import BotApiDouble
from tests.support.seed import (
    after_content,
    digest_counts,
    due_subscriptions,
    register_chats,
    seed_postgres,
)
from tests.tg.test_ops import _free_port, _wait_http

pytestmark = pytest.mark.e2e
SUBSCRIBERS = 3000
RATE = 500  # messages per second for the whole token: 3,000 digests in 6 s at best
LEASE = 6.0  # seconds before a dead replica's claimed digests are taken over
WAIT = 90.0  # only reached when something is wrong
SECRET = "replicas-share-one-secret"


class Replica:
    """``python -m bot run`` in webhook mode; output kept in a file (no pipe to fill)."""

    def __init__(self, double: BotApiDouble, url: str, tmp_path: Path, index: int) -> None:
        self.port = _free_port()
        self.http_port = _free_port()
        self._log_path = tmp_path / f"replica-{index}.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **timetravel.child_env(),
            "TELEGRAM_BOT_TOKEN": double.token,
            "TELEGRAM_API_BASE_URL": double.base_url,
            "DATABASE_URL": url,
            "BOT_DATA_DIR": str(tmp_path / f"data-{index}"),
            "BOT_SEND_RATE": str(RATE),
            "BOT_DELIVERY_LEASE_SECONDS": str(LEASE),
            # One public URL for all, behind the balancer; one secret for all, or only the
            # last replica to call setWebhook would accept updates.
            "BOT_WEBHOOK_URL": "https://bot.example.test/hook",
            "BOT_WEBHOOK_SECRET": SECRET,
            "BOT_WEBHOOK_LISTEN": "127.0.0.1",
            "BOT_WEBHOOK_PORT": str(self.port),
            "BOT_HTTP_PORT": str(self.http_port),
            "BOT_HTTP_LISTEN": "127.0.0.1",
        }
        self._log: IO[str] = self._log_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    @property
    def hook(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.http_port}/metrics", timeout=10).text

    def stop(self, sig: signal.Signals) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._log.close()

    def logs(self) -> str:
        return self._log_path.read_text(encoding="utf-8")


@pytest.fixture
def replicas(
    double: BotApiDouble, database_url: str, tmp_path: Path
) -> Iterator[tuple[list[Replica], list[int]]]:
    now = dt.datetime.now(dt.UTC)
    subs = due_subscriptions(SUBSCRIBERS, now, last_sent_at=after_content(now))
    seed_postgres(database_url, subs, content_at=now - dt.timedelta(days=2))
    chats = [sub.chat_id for sub in subs]
    register_chats(double, chats)
    started = [Replica(double, database_url, tmp_path, n) for n in range(3)]
    yield started, chats
    for replica in started:
        if replica.proc.poll() is None:
            replica.stop(signal.SIGKILL)


def _sent_in_database(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM digest_queue WHERE status = 'sent'").fetchone()
    return int(row[0]) if row else 0


def _accepted(double: BotApiDouble) -> int:
    return sum(1 for call in double.calls("sendMessage") if call.ok)


def test_three_replicas_one_killed_each_subscriber_gets_exactly_one_digest(
    double: BotApiDouble, database_url: str, replicas: tuple[list[Replica], list[int]]
) -> None:
    started, chats = replicas
    for replica in started:
        _wait_http(f"http://127.0.0.1:{replica.http_port}/healthz", timeout=60)
    double.spread_webhooks(replica.hook for replica in started)
    # Every replica takes updates: /start through the balancer reaches each one in turn.
    for user in (1, 2, 3):
        target, status = double.deliver_spread(
            {
                "message": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": user, "type": "private", "first_name": "U"},
                    "from": {"id": user, "is_bot": False, "first_name": "U"},
                    "text": "/start",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                }
            }
        )
        assert status == 200, target
    for user in (1, 2, 3):
        double.wait_for_messages(user, 1, timeout=WAIT)

    double.wait_for(
        lambda d: _accepted(d) >= SUBSCRIBERS // 3,
        timeout=WAIT,
        description="a third of the digests out",
    )
    # From now on nothing takes effect (every send is refused with a 429); once the queue
    # records every accepted send, the kill cannot fall inside the duplicate window.
    double.fail_next(
        "sendMessage",
        status=429,
        retry_after=1,
        times=1_000_000,
        description="Too Many Requests: retry after 1",
    )
    # A replica must meet one (and pause the others) before the kill: on a fast machine the
    # queue could already be caught up, and the kill come before any send was refused.
    double.wait_for(
        lambda d: any(c.error_code == 429 for c in d.calls("sendMessage")),
        timeout=WAIT,
        description="a send refused with a 429",
    )
    deadline = time.monotonic() + WAIT
    while _sent_in_database(database_url) < _accepted(double) - 3:  # the three /start replies
        assert time.monotonic() < deadline, "the queue never caught up with the sends"
        time.sleep(0.05)
    victim = started[0]
    assert victim.stop(signal.SIGKILL) == -signal.SIGKILL
    double.clear_faults()

    double.wait_for(
        lambda d: all(digest_counts(d, chats).values()),
        timeout=WAIT,
        description="a digest in every chat",
    )
    time.sleep(LEASE)  # anything still to come (a duplicate) would arrive by now
    counts = digest_counts(double, chats)
    assert sorted(set(counts.values())) == [1], {c: n for c, n in counts.items() if n != 1}
    peak = double.send_rate_peak()
    assert peak <= RATE, f"{peak} sends within one second, over the limit of {RATE}"
    survivors = started[1:]
    metrics = survivors[0].metrics()
    assert 'partnerbrief_digest_queue_depth{state="queued"} 0.0' in metrics
    assert "partnerbrief_digest_claim_seconds_count" in metrics
    logs = "\n".join(r.logs() for r in survivors)
    assert "took over the digest for one chat after a lease" in logs, "the victim's rows"
    # Whichever replica met the first 429 paused the others (the shared row): with their
    # next slots pushed past the pause, the survivors may never have met one themselves.
    assert "every replica pauses" in "\n".join(r.logs() for r in started)
    for replica in survivors:
        assert replica.stop(signal.SIGTERM) == 0, replica.logs()
        assert "Traceback" not in replica.logs(), replica.logs()
