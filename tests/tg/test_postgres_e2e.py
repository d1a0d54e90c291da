"""The bot on PostgreSQL over real HTTP: the database killed mid-run, the bot answering on
from memory, /readyz saying so, and every change written once the database is back."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.botapi_double import BotApiDouble
from tests.support.postgres import PostgresServer
from tests.tg.test_ops import _free_port, _start, _stop, _wait_http

pytestmark = pytest.mark.e2e


def _ready(port: int) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=15)


def _until(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _lang_in_database(url: str, user: int) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT doc->>'lang' FROM documents WHERE namespace = 'users' AND tbl = 'users' "
            "AND key = %s",
            (str(user),),
        ).fetchone()
    return None if row is None else row[0]


def test_the_database_killed_mid_run(
    double: BotApiDouble, tmp_path: Path, own_postgres: PostgresServer
) -> None:
    url = own_postgres.new_database()
    port = _free_port()
    proc = _start(double, tmp_path / "data", BOT_HTTP_PORT=str(port), DATABASE_URL=url)
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz")
        assert _ready(port).json() == {"ready": True, "problems": [], "warnings": []}
        double.send_text(5, "/start", language_code="en")
        double.wait_for_messages(5, 1, timeout=20)
        own_postgres.kill()
        ready = _ready(port)
        assert ready.status_code == 503
        assert any("PostgreSQL at partnerbrief@127.0.0.1" in p for p in ready.json()["problems"])
        double.send_text(5, "How much has Microsoft invested in OpenAI?", language_code="en")
        answer = double.wait_for_messages(5, 2, timeout=20)[-1]
        assert "Microsoft" in answer.plain_text, "answered from memory"
        # The language choice is a write the database cannot take now: it waits.
        double.send_text(5, "/lang fr", language_code="en")
        double.wait_for_messages(5, 3, timeout=20)
        own_postgres.start()
        _until(lambda: _ready(port).status_code == 200, timeout=60)
        _until(lambda: _lang_in_database(url, 5) == "fr")
    finally:
        logs, _ = _stop(proc)
    assert proc.returncode == 0, logs
    assert "Traceback" not in logs, logs
