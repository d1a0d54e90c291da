"""Two bot processes in webhook mode on one PostgreSQL database, over real HTTP: whichever
replica an update reaches, it knows what the other one committed before (a /lang, a question's
turn)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.support import updates
from tests.support.botapi_double import BotApiDouble
from tests.tg.test_ops import _free_port, _start, _stop, _when_listening

pytestmark = pytest.mark.e2e
SECRET = "replicas-share-this-webhook-secret-0123456789"


@dataclass
class Replica:
    proc: subprocess.Popen[str]
    target: str


def _says(double: BotApiDouble, replica: Replica, user: int, text: str, lang: str) -> str:
    """``text`` from ``user`` delivered to this replica; the bot's next reply's text."""
    before = len(double.messages(user))
    raw = {
        "message": updates.message(
            updates.chat(user), updates.user(user, lang), updates.text(text)
        )
    }
    _when_listening(lambda: double.deliver_webhook(replica.target, raw) == 200)
    return double.wait_for_messages(user, before + 1, timeout=30)[before].plain_text


def _committed(url: str, namespace: str, tbl: str, key: int, field: str, value: str) -> None:
    """Wait until the database holds what a replica wrote (its writer commits in the
    background, a few milliseconds after the reply)."""
    deadline = time.monotonic() + 30
    while True:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT doc->>%s FROM documents WHERE namespace = %s AND tbl = %s AND key = %s",
                (field, namespace, tbl, str(key)),
            ).fetchone()
        if row is not None and row[0] == value:
            return
        assert time.monotonic() < deadline, f"{namespace}/{tbl}/{key} never committed"
        time.sleep(0.01)


@pytest.fixture
def replicas(
    double: BotApiDouble, tmp_path: Path, database_url: str
) -> Iterator[tuple[Replica, Replica]]:
    started: list[Replica] = []
    try:
        for name in ("a", "b"):
            port = _free_port()
            proc = _start(
                double,
                tmp_path / name,
                DATABASE_URL=database_url,
                BOT_WEBHOOK_URL="https://bot.example.org/tg-hook",
                BOT_WEBHOOK_LISTEN="127.0.0.1",
                BOT_WEBHOOK_PORT=str(port),
                BOT_WEBHOOK_SECRET=SECRET,
            )
            started.append(Replica(proc, f"http://127.0.0.1:{port}/tg-hook"))
        double.wait_for(lambda d: d.webhook()[1] == SECRET, timeout=60)
        yield started[0], started[1]
    finally:
        logs = [_stop(r.proc)[0] for r in started]
    for replica, log in zip(started, logs, strict=True):
        assert replica.proc.returncode == 0, log
        assert "Traceback" not in log, log


def test_a_language_set_on_one_replica_is_used_by_the_other(
    double: BotApiDouble, replicas: tuple[Replica, Replica], database_url: str
) -> None:
    a, b = replicas
    question = "How much has Microsoft invested in OpenAI?"
    assert "13 billion" in _says(double, b, 61, question, "en"), "English before /lang"
    assert "français" in _says(double, a, 61, "/lang fr", "en")
    # No waiting for B: committed before the next update, it is read before that is handled.
    _committed(database_url, "users", "users", 61, "lang", "fr")
    answer = _says(double, b, 61, question, "en")
    assert "13 milliards de dollars" in answer, answer


def test_a_follow_up_reaching_the_other_replica_is_understood(
    double: BotApiDouble, replicas: tuple[Replica, Replica], database_url: str
) -> None:
    a, b = replicas
    # Without a first turn, "and in French?" is no follow-up: what B says then is different.
    alone = _says(double, b, 73, "and in French?", "en")
    assert "13 milliards" not in alone
    assert "13 billion" in _says(double, a, 72, "How much has Microsoft invested in OpenAI?", "en")
    _committed(database_url, "chats", "turns", 72, "lang", "en")
    answer = _says(double, b, 72, "and in French?", "en")
    assert "13 milliards de dollars" in answer, answer
    first = _says(double, b, 74, "Combien Microsoft a-t-il investi dans OpenAI ?", "fr")
    assert "13 milliards" in first
    _committed(database_url, "chats", "turns", 74, "lang", "fr")
    assert "13 billion" not in _says(double, a, 75, "en anglais", "fr"), "cold, no follow-up"
    again = _says(double, a, 74, "en anglais", "fr")
    assert "13 billion" in again, again
