"""Settings come from the environment once, validated, with secrets kept out of repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert not settings.has_token
    assert settings.data_dir == Path("data") and settings.default_lang == "en"
    assert (settings.content_dir / "facts.yaml").exists()


def test_values_are_read_and_secrets_hidden() -> None:
    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": "123456:secret-token-value-abcdefghij",
            "LLM_API_KEY": "sk-very-secret",
            "BOT_ADMIN_IDS": "1, 2;3",
            "BOT_DEFAULT_LANG": "FR",
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
        }
    )
    assert settings.admin_ids == frozenset({1, 2, 3}) and settings.default_lang == "fr"
    shown = repr(settings)
    assert "secret" not in shown and "127.0.0.1:8081" in shown


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BOT_DEFAULT_LANG", "de", "BOT_DEFAULT_LANG"),
        ("BOT_ADMIN_IDS", "1,bob", "BOT_ADMIN_IDS"),
        ("DIGEST_CATCH_UP_HOURS", "-1", "zero or more"),
        ("DIGEST_CATCH_UP_HOURS", "nan", "finite"),
        ("BOT_SEND_RATE", "0", "positive"),
    ],
)
def test_bad_values_are_refused_clearly(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({name: value})


def test_no_catch_up_at_all_is_a_valid_choice() -> None:
    assert Settings.from_env({"DIGEST_CATCH_UP_HOURS": "0"}).digest_catch_up_hours == 0.0


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.default_lang = "fr"  # type: ignore[misc]


def test_the_newsroom_is_off_unless_asked_for() -> None:
    """BOT_FEEDS turns it on, BOT_NEWSROOM decides when set."""
    assert Settings.from_env({}).newsroom is False
    assert Settings.from_env({"BOT_NEWSROOM": "1"}).newsroom is True
    on = Settings.from_env(
        {"BOT_FEEDS": " https://a.example/f , https://a.example/f,http://b.x/r "}
    )
    assert on.newsroom is True
    assert on.feeds == ("https://a.example/f", "http://b.x/r")
    off = Settings.from_env({"BOT_FEEDS": "https://a.example/f", "BOT_NEWSROOM": "0"})
    assert (off.newsroom, off.feeds) == (False, ("https://a.example/f",))


def test_feed_limits_are_read_with_sane_defaults() -> None:
    """Interval in minutes, timeout in seconds, the size cap in bytes."""
    default = Settings.from_env({})
    assert (default.feed_interval_minutes, default.feed_timeout, default.feed_max_bytes) == (
        30.0,
        20.0,
        2_000_000,
    )
    chosen = Settings.from_env(
        {"BOT_FEED_INTERVAL": "10", "BOT_FEED_TIMEOUT": "5", "BOT_FEED_MAX_BYTES": "500000"}
    )
    assert (chosen.feed_interval_minutes, chosen.feed_timeout, chosen.feed_max_bytes) == (
        10.0,
        5.0,
        500_000,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BOT_FEEDS", "openai.com/news/rss.xml", "BOT_FEEDS must be comma-separated"),
        ("BOT_FEEDS", "ftp://x.example/f", "BOT_FEEDS must be comma-separated"),
        ("BOT_FEED_INTERVAL", "0", "BOT_FEED_INTERVAL must be positive"),
        ("BOT_FEED_TIMEOUT", "soon", "BOT_FEED_TIMEOUT must be a number"),
        ("BOT_FEED_MAX_BYTES", "-1", "BOT_FEED_MAX_BYTES must be positive"),
    ],
)
def test_bad_feed_settings_are_refused_clearly(name: str, value: str, message: str) -> None:
    """Each names its variable."""
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({name: value})


def test_the_loop_probe_is_off_unless_given() -> None:
    """BOT_LOOP_PROBE names the file the loop probe writes at stop (benchmarks only)."""
    assert Settings.from_env({}).loop_probe is None
    given = Settings.from_env({"BOT_LOOP_PROBE": "/tmp/probe.json"})
    assert given.loop_probe == Path("/tmp/probe.json")


def test_the_semantic_second_opinion_is_on_unless_turned_off() -> None:
    assert Settings.from_env({}).semantic is True
    assert Settings.from_env({"BOT_SEMANTIC": "0"}).semantic is False
    assert Settings.from_env({"BOT_SEMANTIC": "1"}).semantic is True
