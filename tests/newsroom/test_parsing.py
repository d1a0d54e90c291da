"""Feed bodies into items: RSS, Atom, HTML summaries, lenient and broken XML."""

from __future__ import annotations

import datetime as dt

from bot.newsroom.parsing import MAX_ITEMS, MAX_TEXT, parse_feed
from tests.support.feed_server import FeedItem, atom, rss

URL = "https://feeds.example.org/news/feed.xml"


def test_rss_items_come_as_plain_text_lines_with_canonical_links() -> None:
    """Tags and entities go, each sentence is a line, relative links resolve, dates are UTC."""
    body = rss(
        [
            FeedItem(
                "Microsoft &amp; OpenAI",
                "/2026/story?utm_source=rss",
                "g1",
                "<p>First sentence. Second <b>one</b>!</p><script>x()</script><p>Third.</p>",
                dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            )
        ]
    )
    [item] = parse_feed(body, URL).items
    assert item.title == "Microsoft & OpenAI"
    assert item.url == "https://feeds.example.org/2026/story"
    assert item.lines == ("Microsoft & OpenAI", "First sentence.", "Second one!", "Third.")
    assert item.published == dt.datetime(2026, 3, 1, 7, 30, tzinfo=dt.UTC)
    assert item.guid is not None


def test_atom_entries_are_read_too() -> None:
    """Atom's link, id and updated stand for RSS's."""
    body = atom([FeedItem("L'accord Microsoft–OpenAI", "https://presse.example.fr/a", "urn:1")])
    parsed = parse_feed(body, URL)
    assert parsed.error is None
    [item] = parsed.items
    assert (item.guid, item.url) == ("urn:1", "https://presse.example.fr/a")


def test_a_huge_feed_is_read_in_part_and_texts_are_bounded() -> None:
    """At most MAX_ITEMS items, each at most MAX_TEXT characters."""
    long = " ".join(f"Sentence number {n} is here." for n in range(400))
    body = rss([FeedItem(f"Story {n}", f"/s/{n}", summary=long) for n in range(MAX_ITEMS + 50)])
    items = parse_feed(body, URL).items
    assert len(items) == MAX_ITEMS
    assert all(len(item.text) <= MAX_TEXT for item in items)


def test_bodies_that_are_no_feed_are_errors_and_lenient_ones_are_read() -> None:
    """HTML and garbage are not feeds; a truncated feed is malformed; a bare & is overlooked."""
    assert parse_feed(b"<html><body><p>Sign in</p></body></html>", URL, "text/html").error == (
        "not_feed"
    )
    assert parse_feed(b"\x00\xff\xfe garbage", URL).error == "not_feed"
    truncated = parse_feed(b'<?xml version="1.0"?><rss version="2.0"><channel><item><ti', URL)
    assert truncated.error == "malformed" and truncated.warning
    lenient = parse_feed(rss([FeedItem("A & B", "/x")]).replace(b"&amp;", b"&"), URL)
    assert lenient.error is None and lenient.items[0].title == "A & B"
    assert "not well-formed" in lenient.warning
    empty = parse_feed(rss([]), URL)
    assert (empty.error, empty.items, empty.warning) == (None, (), "")
