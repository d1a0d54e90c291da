"""The feeds in force: BOT_FEEDS when set, else content/feeds.yaml."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from bot.config import Settings
from bot.content.feeds import FeedSpec, load_feeds


def feeds_in_force(settings: Settings) -> tuple[FeedSpec, ...]:
    interval = dt.timedelta(minutes=settings.feed_interval_minutes)
    if settings.feeds:
        # A bare URL says nothing of its outlet: its host stands for it.
        return tuple(
            FeedSpec(urlsplit(url).hostname or url, url, interval) for url in settings.feeds
        )
    return load_feeds(settings.content_dir, interval)
