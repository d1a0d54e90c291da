"""/feeds reads the same in French and English, numbers and dates through Babel."""

from __future__ import annotations

import datetime as dt

from bot.compose.render_text import render_plain as render_text
from bot.i18n.translator import translator
from bot.newsroom.report import feeds_reply
from bot.store.feeds import FeedStatus

T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)
OK = FeedStatus(
    "https://a.example/feed",
    "A",
    T0,
    304,
    items=1200,
    new_stories=3,
    next_poll=T0 + dt.timedelta(minutes=30),
)
FAILING = FeedStatus(
    "https://b.example/feed",
    "B",
    T0,
    None,
    errors=3,
    error="timeout",
    detail="20 s",
    next_poll=T0 + dt.timedelta(hours=4),
    backoff=dt.timedelta(hours=3, minutes=30),
)


def test_each_feed_says_when_what_and_what_next_in_english() -> None:
    """Answer, items, errors in a row, next poll and back-off."""
    text = render_text(feeds_reply(translator("en"), [OK, FAILING, FeedStatus("u", "C")], 2, T0))
    assert "3 feeds, 1 failing; 2 candidates waiting for review." in text
    assert "Last fetch: Monday, November 2, 2026 at 8:00\u202fAM UTC, 304, not modified; " in text
    assert "1,200 items in the feed." in text
    assert "Error: timed out (20 s); 3 in a row." in text
    assert "Backing off 4 hours after errors." in text
    assert "Not fetched yet." in text and "Next poll: due now." in text


def test_the_same_in_french() -> None:
    """French words, French numbers and dates."""
    text = render_text(feeds_reply(translator("fr"), [OK, FAILING], 0, T0))
    assert "2 flux, 1 en échec ; 0 sujets en attente de relecture." in text
    assert "lundi 2 novembre 2026 à 08:00 UTC, 304, inchangé" in text
    assert "1\u202f200 articles dans le flux." in text
    assert "Erreur : délai dépassé (20 s) ; 3 de suite." in text


def test_an_off_newsroom_says_how_to_turn_it_on() -> None:
    """No list, a hint."""
    text = render_text(feeds_reply(translator("fr"), None, 0, T0))
    assert "BOT_NEWSROOM=1" in text
