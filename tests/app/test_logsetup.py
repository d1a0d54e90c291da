"""Log records never carry a bot token, whether in the message, its args or a traceback."""

from __future__ import annotations

import json
import logging

from bot.app.logsetup import JsonFormatter, RedactTokens

TOKEN = "987654321:AAHk-secretsecretsecretsecret_xyz"


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc else None
    return logging.LogRecord("httpx", logging.INFO, __file__, 1, msg, args, exc_info)


def test_token_in_url_argument_is_redacted() -> None:
    record = _record("HTTP Request: POST %s", f"https://api.telegram.org/bot{TOKEN}/getMe")
    RedactTokens().filter(record)
    assert TOKEN not in record.getMessage() and "<redacted>" in record.getMessage()


def test_explicit_secret_and_traceback_are_redacted() -> None:
    record = _record("boom", exc=RuntimeError(f"failed for sk-live-{TOKEN}"))
    RedactTokens(("sk-live",)).filter(record)
    assert TOKEN not in (record.exc_text or "") and "sk-live" not in (record.exc_text or "")
    assert "RuntimeError" in (record.exc_text or "")


def test_json_lines_read_back_and_a_lone_surrogate_does_not_lose_the_line() -> None:
    """Each record is one JSON object with its message as logged, non-ASCII kept as is; a
    message orjson refuses (a lone surrogate) is still written, by the standard encoder."""
    formatter = JsonFormatter()
    line = formatter.format(_record("réponse %d envoyée", 3))
    assert "\n" not in line and "réponse" in line
    assert json.loads(line)["message"] == "réponse 3 envoyée"
    odd = formatter.format(_record("odd \ud800 text"))
    assert json.loads(odd)["message"] == "odd \ud800 text"
