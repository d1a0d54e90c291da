"""Operations over real HTTP: health, readiness and metrics; webhook mode with its secret."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests import timetravel
from tests.conftest import REPO
from tests.support.botapi_double import BotApiDouble

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(double: BotApiDouble, data: Path, **env: str) -> subprocess.Popen[str]:
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **timetravel.child_env(),
        "TELEGRAM_BOT_TOKEN": double.token,
        "TELEGRAM_API_BASE_URL": double.base_url,
        "BOT_DATA_DIR": str(data),
        "BOT_HTTP_LISTEN": "127.0.0.1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=REPO,
        env={**base, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_http(url: str, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _when_listening(check: Callable[[], bool], timeout: float = 20) -> None:
    """Telegram retries a webhook it cannot reach; so does this, while the server starts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            assert check()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _stop(proc: subprocess.Popen[str]) -> tuple[str, float]:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    return out + err, time.monotonic() - started


def test_health_readiness_and_metrics(double: BotApiDouble, tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(double, tmp_path / "data", BOT_HTTP_PORT=str(port), BOT_LOG_FORMAT="json")
    try:
        assert _wait_http(f"http://127.0.0.1:{port}/healthz").text == "ok\n"
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "problems": [], "warnings": []}
        double.send_text(3, "/start", language_code="fr")
        double.send_text(3, "Combien Microsoft a-t-il investi ?", language_code="fr")
        double.wait_for_messages(3, 2, timeout=20)
        double.fail_next(
            "sendMessage",
            status=429,
            retry_after=1,
            description="Too Many Requests: retry after 1",
        )
        double.send_text(3, "/help", language_code="fr")
        double.wait_for_messages(3, 3, timeout=20)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert "partnerbrief_rate_limit_waits_total 1.0" in metrics, "each 429 counted once"
        assert 'partnerbrief_updates_total{type="message"} 3.0' in metrics
        assert 'partnerbrief_answers_total{outcome="found"} 1.0' in metrics
        assert 'partnerbrief_subscribers{state="active"} 0.0' in metrics
        assert "partnerbrief_llm_seconds_bucket" in metrics
    finally:
        logs, took = _stop(proc)
    assert proc.returncode == 0 and took < 10, logs
    assert double.token not in logs and double.token.split(":")[1] not in logs
    assert "Combien Microsoft" not in logs, "message text is never logged at INFO"
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(r["update_id"] is not None and r["chat"] for r in records), (
        "JSON lines with update and chat"
    )


def test_webhook_mode_accepts_telegram_and_refuses_forgers(
    double: BotApiDouble, tmp_path: Path
) -> None:
    port = _free_port()
    proc = _start(
        double,
        tmp_path / "data",
        BOT_WEBHOOK_URL="https://bot.example.org/tg-hook",
        BOT_WEBHOOK_LISTEN="127.0.0.1",
        BOT_WEBHOOK_PORT=str(port),
    )
    try:
        double.wait_for(lambda d: d.webhook()[0] != "", timeout=30)
        url, secret = double.webhook()
        assert url == "https://bot.example.org/tg-hook" and len(secret) >= 32
        target = f"http://127.0.0.1:{port}/tg-hook"
        message = {
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                "chat": {"id": 77, "type": "private"},
                "from": {"id": 77, "is_bot": False, "first_name": "W", "language_code": "en"},
            }
        }
        _when_listening(lambda: double.deliver_webhook(target, message) == 200)
        [reply] = double.wait_for_messages(77, 1, timeout=20)
        assert reply.plain_text.startswith("Hello")
        assert double.deliver_webhook(target, message, secret="forged") == 403
        assert double.deliver_webhook(target, message, secret="") == 403
        time.sleep(0.5)
        assert len(double.messages(77)) == 1, "forged updates are not processed"
    finally:
        logs, _ = _stop(proc)
    assert proc.returncode == 0, logs
    assert secret not in logs and "secret token: set" in logs
