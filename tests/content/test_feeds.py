"""content/feeds.yaml: the shipped list validates, and every mistake is reported at its line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.content.feeds import load_feeds
from bot.content.loader import ContentInvalid
from tests.conftest import CONTENT

DEFAULT = dt.timedelta(minutes=30)


def test_the_shipped_feeds_validate() -> None:
    """Names and URLs unique, intervals in minutes."""
    feeds = load_feeds(CONTENT, DEFAULT)
    assert len({f.name for f in feeds}) == len({f.url for f in feeds}) == len(feeds)


def test_every_mistake_is_reported_with_its_line(tmp_path: Path) -> None:
    """Missing name, bad URL, duplicate URL, bad and short intervals: all in one report."""
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n"
        "  - url: https://a.example/feed\n"  # line 2: no name
        "  - name: B\n"
        "    url: ftp://b.example/feed\n"  # line 3: not http(s)
        "  - name: C\n"
        "    url: https://c.example/feed\n"
        "    interval: often\n"  # line 5
        "  - name: D\n"
        "    url: https://c.example/feed\n"  # line 8: duplicate URL
        "    interval: 2\n",
        encoding="utf-8",
    )
    with pytest.raises(ContentInvalid) as caught:
        load_feeds(tmp_path, DEFAULT)
    found = {(e.line, e.message.split(" ")[0]) for e in caught.value.errors}
    assert (2, "missing") in found
    assert (3, "url") in found
    assert (5, "'interval'") in found
    assert (8, "duplicate") in found and (8, "'interval'") in found


def test_an_interval_may_be_left_to_the_default(tmp_path: Path) -> None:
    """No interval: BOT_FEED_INTERVAL's."""
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n  - name: A\n    url: https://a.example/feed\n", encoding="utf-8"
    )
    [feed] = load_feeds(tmp_path, DEFAULT)
    assert feed.interval == DEFAULT


def test_a_missing_file_is_an_error_at_line_one(tmp_path: Path) -> None:
    """Like the other content files."""
    with pytest.raises(ContentInvalid) as caught:
        load_feeds(tmp_path, DEFAULT)
    assert (1, "file is missing") in [(e.line, e.message) for e in caught.value.errors]
