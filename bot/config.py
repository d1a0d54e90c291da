"""Settings read once from the environment into a frozen value that never shows its secrets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

SUPPORTED_LANGS = ("fr", "en")


class ConfigError(ValueError):
    """An environment variable holds a value the bot cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Everything the process needs from its environment; secrets are excluded from repr."""

    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_base_url: str | None = None
    data_dir: Path = Path("data")
    content_dir: Path = Path("content")
    default_lang: str = "en"
    admin_ids: frozenset[int] = frozenset()
    llm_base_url: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    llm_model: str | None = None
    llm_deadline: float = 30.0
    llm_questions_per_hour: int = 20
    digest_catch_up_hours: float = 6.0
    send_rate: float = 30.0  # messages per second, overall (Telegram's broadcast limit)
    allow_paid_broadcast: bool = False
    webhook_url: str | None = None  # set: webhook mode instead of long polling
    webhook_listen: str = "0.0.0.0"  # noqa: S104 - the webhook must be reachable by Telegram
    webhook_port: int = 8443
    webhook_secret: str | None = field(default=None, repr=False)
    http_port: int | None = None  # set: /healthz, /readyz and /metrics on this port
    http_listen: str = "0.0.0.0"  # noqa: S104 - probes come from outside the container
    log_format: str = "text"  # or "json"
    # The newsroom's intake (docs/NEWSROOM.md): off unless BOT_NEWSROOM is on or BOT_FEEDS set.
    newsroom: bool = False
    feeds: tuple[str, ...] = ()  # BOT_FEEDS: feed URLs that replace content/feeds.yaml
    feed_interval_minutes: float = 30.0  # for BOT_FEEDS, and feeds.yaml entries without one
    feed_timeout: float = 20.0  # seconds for one whole fetch, headers to last byte
    feed_max_bytes: int = 2_000_000  # a body past this is dropped unread
    # Set: the stores live in PostgreSQL (bot/store/pg/) instead of the data directory's files.
    # Hidden from repr whole: its password may sit anywhere in a URL or a conninfo string.
    database_url: str | None = field(default=None, repr=False)
    # Several replicas on PostgreSQL: how long a claimed digest stays a replica's before
    # another may take it over (the claimer died). Longer than any single send can take.
    delivery_lease: float = 60.0
    # Benchmarks only (bench/soak.py): where the event loop's stalls are written at stop.
    loop_probe: Path | None = None
    # The semantic second opinion on weak answers (qa/deciding.py): more answers, and more
    # refusals answered with an unrelated fact (docs/RETRIEVAL.md has both counts).
    semantic: bool = True

    @property
    def has_token(self) -> bool:
        return bool(self.telegram_token)

    @property
    def has_llm(self) -> bool:
        return bool(self.llm_base_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        get = partial(_get, env)
        # Checked in this order: the first invalid variable is the one reported.
        default_lang = _default_lang(get("BOT_DEFAULT_LANG"))
        admin_ids = _admin_ids(get("BOT_ADMIN_IDS"))
        llm_deadline = _number(get("LLM_DEADLINE_SECONDS"), "LLM_DEADLINE_SECONDS", 30.0)
        per_hour = int(_number(get("LLM_QUESTIONS_PER_HOUR"), "LLM_QUESTIONS_PER_HOUR", 20))
        # 0 is a real choice: no late digests after downtime, only on-time ones.
        catch_up = _number(
            get("DIGEST_CATCH_UP_HOURS"), "DIGEST_CATCH_UP_HOURS", 6.0, allow_zero=True
        )
        send_rate = _number(get("BOT_SEND_RATE"), "BOT_SEND_RATE", 30.0)
        paid = (get("BOT_ALLOW_PAID_BROADCAST") or "").lower() in ("1", "true", "yes")
        log_format = _log_format(get("BOT_LOG_FORMAT"))
        feeds = _feeds(get("BOT_FEEDS"))
        newsroom_flag = get("BOT_NEWSROOM")
        # Explicit wins: BOT_NEWSROOM=0 keeps BOT_FEEDS configured but unpolled.
        newsroom = _flag(newsroom_flag) if newsroom_flag is not None else bool(feeds)
        interval = _number(get("BOT_FEED_INTERVAL"), "BOT_FEED_INTERVAL", 30.0)
        feed_timeout = _number(get("BOT_FEED_TIMEOUT"), "BOT_FEED_TIMEOUT", 20.0)
        max_bytes = int(_number(get("BOT_FEED_MAX_BYTES"), "BOT_FEED_MAX_BYTES", 2_000_000))
        lease = _number(get("BOT_DELIVERY_LEASE_SECONDS"), "BOT_DELIVERY_LEASE_SECONDS", 60.0)
        return cls(
            telegram_token=get("TELEGRAM_BOT_TOKEN"),
            telegram_api_base_url=get("TELEGRAM_API_BASE_URL"),
            data_dir=Path(get("BOT_DATA_DIR") or "data"),
            content_dir=Path(get("BOT_CONTENT_DIR") or _default_content_dir()),
            default_lang=default_lang,
            admin_ids=admin_ids,
            llm_base_url=get("LLM_BASE_URL"),
            llm_api_key=get("LLM_API_KEY"),
            llm_model=get("LLM_MODEL"),
            llm_deadline=llm_deadline,
            llm_questions_per_hour=per_hour,
            digest_catch_up_hours=catch_up,
            send_rate=send_rate,
            allow_paid_broadcast=paid,
            webhook_url=get("BOT_WEBHOOK_URL"),
            webhook_listen=get("BOT_WEBHOOK_LISTEN") or "0.0.0.0",  # noqa: S104
            webhook_port=int(_number(get("BOT_WEBHOOK_PORT"), "BOT_WEBHOOK_PORT", 8443)),
            webhook_secret=get("BOT_WEBHOOK_SECRET"),
            http_port=_optional_port(get("BOT_HTTP_PORT"), "BOT_HTTP_PORT"),
            http_listen=get("BOT_HTTP_LISTEN") or "0.0.0.0",  # noqa: S104
            log_format=log_format,
            newsroom=newsroom,
            feeds=feeds,
            feed_interval_minutes=interval,
            feed_timeout=feed_timeout,
            feed_max_bytes=max_bytes,
            database_url=get("DATABASE_URL"),
            delivery_lease=lease,
            loop_probe=Path(probe) if (probe := get("BOT_LOOP_PROBE")) else None,
            semantic=_flag(semantic) if (semantic := get("BOT_SEMANTIC")) is not None else True,
        )


def _get(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value without surrounding blanks; None when unset or blank."""
    value = env.get(name, "").strip()
    return value or None


def _default_lang(value: str | None) -> str:
    default_lang = (value or "en").lower()
    if default_lang not in SUPPORTED_LANGS:
        choices = ", ".join(SUPPORTED_LANGS)
        raise ConfigError(f"BOT_DEFAULT_LANG must be one of {choices}, got {default_lang!r}")
    return default_lang


def _admin_ids(value: str | None) -> frozenset[int]:
    """Telegram user ids separated by commas (or semicolons); blanks between them are fine."""
    admin_ids: set[int] = set()
    for part in (value or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            admin_ids.add(int(part))
        except ValueError:
            raise ConfigError(
                f"BOT_ADMIN_IDS must be comma-separated Telegram user ids, got {part!r}"
            ) from None
    return frozenset(admin_ids)


def _flag(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "on")


def _feeds(value: str | None) -> tuple[str, ...]:
    """Feed URLs separated by commas; each must be http(s) with a host."""
    urls: list[str] = []
    for part in (value or "").split(","):
        url = part.strip()
        if not url:
            continue
        scheme, _, rest = url.partition("://")
        if scheme.lower() not in ("http", "https") or not rest.split("/")[0]:
            raise ConfigError(f"BOT_FEEDS must be comma-separated http(s) URLs, got {url!r}")
        if url not in urls:
            urls.append(url)
    return tuple(urls)


def _log_format(value: str | None) -> str:
    log_format = (value or "text").lower()
    if log_format not in ("text", "json"):
        raise ConfigError(f"BOT_LOG_FORMAT must be text or json, got {log_format!r}")
    return log_format


def _optional_port(value: str | None, name: str) -> int | None:
    return int(_number(value, name, 0)) if value else None


def _number(value: str | None, name: str, default: float, *, allow_zero: bool = False) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if allow_zero and number < 0:
        raise ConfigError(f"{name} must be zero or more, got {value!r}")
    if not allow_zero and number <= 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")
    return number


def _default_content_dir() -> str:
    """content/ beside the package in a checkout, else ./content."""
    beside_package = Path(__file__).resolve().parent.parent / "content"
    return str(beside_package if beside_package.is_dir() else Path("content"))
