"""Canonical URLs and near-duplicate headlines."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.candidates import Candidate, Link
from bot.newsroom.dedupe import TITLE_WINDOW, Deduper, canonical_url, title_key

T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("link", "canonical"),
    [
        (
            "HTTPS://WWW.Example.com:443/a/b/?utm_source=rss&utm_campaign=x&id=7#top",
            "https://example.com/a/b?id=7",
        ),
        ("http://example.com:8080/?b=2&a=1&fbclid=zz", "http://example.com:8080/?a=1&b=2"),
        (
            "https://blogs.example.com/post?ocid=AID&mc_cid=1&ref=home",
            "https://blogs.example.com/post",
        ),
        ("/relative/story", "https://feeds.example.org/relative/story"),
    ],
)
def test_canonical_urls_drop_what_says_how_a_reader_came(link: str, canonical: str) -> None:
    """Tracking parameters, fragments, www., default ports and slashes go; the rest stays."""
    assert canonical_url(link, "https://feeds.example.org/feed.xml") == canonical


def test_an_outlets_name_after_a_headline_is_not_part_of_it() -> None:
    """' - Reuters' goes, a short headline keeps its dash."""
    assert title_key("OpenAI and Microsoft sign a deal - Reuters") == (
        "openai and microsoft sign a deal"
    )
    assert title_key("Microsoft – OpenAI") == "microsoft openai"
    assert title_key("L’accord entre Microsoft et OpenAI | Le Monde") == (
        "l accord entre microsoft et openai"
    )


def _candidate(cid: str, title: str, url: str, seen: dt.datetime = T0) -> Candidate:
    return Candidate(cid, title, title, (Link(url, "Outlet"),), seen)


def test_copies_are_found_by_url_or_by_a_near_identical_headline() -> None:
    """Same words in another order match; another company or another figure does not."""
    dedupe = Deduper([_candidate("a", "Microsoft to invest $10 billion in OpenAI", "https://x/a")])
    assert dedupe.by_url("https://x/a") == "a"
    assert dedupe.by_url("https://x/b") is None
    assert dedupe.by_title("Microsoft to invest $10 billion in OpenAI - Reuters", T0) == "a"
    assert dedupe.by_title("Microsoft to invest $20 billion in OpenAI", T0) is None
    assert dedupe.by_title("Microsoft to invest $10 billion in Anthropic", T0) is None


def test_a_like_headline_after_the_window_is_a_new_story() -> None:
    """A fortnight later, the same words are news again (a new round, a new deal)."""
    dedupe = Deduper([_candidate("a", "OpenAI and Microsoft sign a new deal", "https://x/a")])
    assert dedupe.by_title("OpenAI and Microsoft sign a new deal", T0 + TITLE_WINDOW) == "a"
    later = T0 + TITLE_WINDOW + dt.timedelta(days=1)
    assert dedupe.by_title("OpenAI and Microsoft sign a new deal", later) is None


def test_short_headlines_are_never_matched() -> None:
    """'OpenAI news' says too little to be the same story as anything."""
    dedupe = Deduper([_candidate("a", "OpenAI news", "https://x/a")])
    assert dedupe.by_title("OpenAI news", T0) is None
