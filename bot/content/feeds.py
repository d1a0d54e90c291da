"""content/feeds.yaml: the feeds the newsroom polls by default, each error ``file:line``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bot.content.loader import ContentInvalid, _Checker, _read

FEEDS_FILE = "feeds.yaml"
# Politeness to publishers, and a bound on our own work: no feed is polled more often.
MIN_INTERVAL_MINUTES = 5.0


@dataclass(frozen=True)
class FeedSpec:
    """One feed to poll: ``name`` is the outlet its links are credited to."""

    name: str
    url: str
    interval: dt.timedelta


def is_feed_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def load_feeds(content_dir: Path, default_interval: dt.timedelta) -> tuple[FeedSpec, ...]:
    """The feeds of content/feeds.yaml; raise ContentInvalid listing every error."""
    path = content_dir / FEEDS_FILE
    check = _Checker(path)
    feeds: list[FeedSpec] = []
    names: set[str] = set()
    urls: set[str] = set()
    for node in check.items(_read(path, check), "feeds"):
        name = check.text(node, "name")
        url = check.text(node, "url")
        if name is not None:
            if name in names:
                check.error(node.line, f"duplicate feed name {name!r}")
            names.add(name)
        if url is not None:
            if not is_feed_url(url):
                check.error(node.line, f"url must be http(s) with a host, got {url!r}")
            elif url in urls:
                check.error(node.line, f"duplicate feed url {url!r}")
            urls.add(url)
        interval = default_interval
        raw = node.get("interval")
        if raw is not None:
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                check.error(node.line, f"'interval' must be minutes (a number), got {raw!r}")
            elif raw < MIN_INTERVAL_MINUTES:
                check.error(
                    node.line,
                    f"'interval' must be at least {MIN_INTERVAL_MINUTES:g} minutes, got {raw!r}",
                )
            else:
                interval = dt.timedelta(minutes=raw)
        if name is not None and url is not None:
            feeds.append(FeedSpec(name, url, interval))
    if check.errors:
        raise ContentInvalid(check.errors)
    return tuple(feeds)
