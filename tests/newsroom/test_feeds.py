"""The feeds in force: BOT_FEEDS replaces content/feeds.yaml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.config import Settings
from bot.newsroom.feeds import feeds_in_force
from tests.conftest import CONTENT


def test_the_shipped_list_is_polled_by_default(tmp_path: Path) -> None:
    """content/feeds.yaml's names, URLs and intervals."""
    feeds = feeds_in_force(Settings(content_dir=CONTENT))
    assert len(feeds) >= 8
    assert feeds[0].name == "OpenAI News" and feeds[0].url.startswith("https://openai.com/")
    assert all(f.interval >= dt.timedelta(minutes=5) for f in feeds)


def test_bot_feeds_replaces_the_list_named_by_host() -> None:
    """Each URL of BOT_FEEDS, its host for a name, BOT_FEED_INTERVAL for an interval."""
    settings = Settings.from_env(
        {
            "BOT_FEEDS": "https://a.example/feed.xml, http://b.example:8080/rss",
            "BOT_FEED_INTERVAL": "15",
            "BOT_CONTENT_DIR": str(CONTENT),
        }
    )
    feeds = feeds_in_force(settings)
    assert [(f.name, f.url) for f in feeds] == [
        ("a.example", "https://a.example/feed.xml"),
        ("b.example", "http://b.example:8080/rss"),
    ]
    assert {f.interval for f in feeds} == {dt.timedelta(minutes=15)}
