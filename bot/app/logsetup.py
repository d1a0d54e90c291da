"""Logging that never leaks the bot token, whatever library writes the record."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from contextvars import ContextVar
from functools import lru_cache

import orjson

# Telegram puts the token in every request path (…/bot<token>/sendMessage).
_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


class RedactTokens(logging.Filter):
    """Replaces anything shaped like a bot token, in the message and its arguments."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        return _TOKEN.sub("<redacted>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._clean(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


# Set per update by the Telegram adapter, so that every line about an update can be joined up
# without logging who the user is.
update_id: ContextVar[int | None] = ContextVar("update_id", default=None)
chat_ref: ContextVar[str | None] = ContextVar("chat_ref", default=None)


@lru_cache(maxsize=4096)  # once per update; an HMAC per call was 0.5% of the bot's CPU
def chat_reference(chat_id: int, key: str) -> str:
    """A stable, non-reversible reference to a chat (HMAC keyed by a secret, 12 hex digits)."""
    return hmac.new(key.encode(), str(chat_id).encode(), hashlib.sha256).hexdigest()[:12]


class _UpdateContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        update, chat = update_id.get(), chat_ref.get()
        record.update_id = update
        record.chat = chat
        record.context = f" [update {update} chat {chat}]" if chat else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, update id, chat reference."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "update_id": getattr(record, "update_id", None),
            "chat": getattr(record, "chat", None),
        }
        if record.exc_text:
            payload["exception"] = record.exc_text
        try:
            # orjson: a line per update is logged, and it encodes one in a fraction of the time.
            return orjson.dumps(payload).decode()
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate, say
            return json.dumps(payload, ensure_ascii=False)


def configure_logging(
    level: int = logging.INFO, secrets: tuple[str, ...] = (), fmt: str = "text"
) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")
        )
    # Neither format shows the thread, the process or the caller's file and line: not
    # gathering them takes a third off each record (the Logging HOWTO's "Optimization"; the
    # bot logs a line per update).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    handler.addFilter(_UpdateContext())
    handler.addFilter(RedactTokens(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Telegram's URLs carry the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Probes hit /healthz every few seconds; one line each would bury everything else.
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
