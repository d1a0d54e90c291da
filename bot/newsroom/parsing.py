"""A fetched body into feed items, with feedparser; CPU work, so callers run it in a thread.

feedparser reads RSS 0.9x-2.0, RSS 1.0 and Atom, and falls back to a lenient parser on
malformed XML (``bozo``): a feed with a stray ``&`` still gives its items, and we keep them
and say so in the feed's status. A body that gives no feed at all (an HTML page, a login
wall, garbage) is an error.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import feedparser

from bot.newsroom.dedupe import canonical_url
from bot.store.feeds import FeedErrorKind

MAX_ITEMS = 200  # per body: a feed that lists thousands is read in part, newest first
MAX_TEXT = 2000  # characters of an item's text kept: what a draft may draw on
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"«“(]?[A-ZÀ-ÖØ-Þ0-9])")
_BLANKS = re.compile(r"[ \t\r\f\v\u00a0]+")
# Said of many good feeds (served as text/plain, or in another charset than declared).
_BENIGN = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)


@dataclass(frozen=True)
class Item:
    """One entry of a feed, as the intake judges it."""

    guid: str | None
    url: str | None  # canonical (dedupe.canonical_url)
    title: str
    lines: tuple[str, ...]  # the title, then the summary's sentences: plain text
    published: dt.datetime | None  # aware, UTC

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class ParsedFeed:
    items: tuple[Item, ...] = ()
    error: FeedErrorKind | None = None  # no feed in the body
    warning: str = ""  # what the lenient parser overlooked, when it did


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """The items of a feed body fetched from ``url`` (relative links resolve against it)."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # A stream, never bytes or str: feedparser fetches a string that looks like a URL itself.
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,  # we keep plain text only, and strip every tag below
        resolve_relative_uris=False,
    )
    entries: list[Any] = list(parsed.get("entries", []))
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(problem, _BENIGN):
        problem = None
    items = tuple(item for entry in entries[:MAX_ITEMS] if (item := _item(entry, url)) is not None)
    if not items:
        if not parsed.get("version"):
            return ParsedFeed(error="not_feed", warning=_describe(problem))
        if problem is not None:
            return ParsedFeed(error="malformed", warning=_describe(problem))
    return ParsedFeed(items, warning=_describe(problem))


def _describe(problem: object) -> str:
    if problem is None:
        return ""
    return f"{type(problem).__name__}: {problem}"[:200]


def _item(entry: Any, feed_url: str) -> Item | None:
    title = _one_line(_plain(str(entry.get("title") or "")))
    summary = str(entry.get("summary") or "")
    if not summary and entry.get("content"):
        summary = str(entry["content"][0].get("value") or "")
    sentences = _sentences(_plain(summary))
    if not title:
        if not sentences:
            return None
        title = sentences[0][:200]
    link = str(entry.get("link") or "").strip()
    guid = str(entry.get("id") or "").strip() or None
    url = None
    if link:
        url = canonical_url(link, feed_url)
    elif guid and guid.startswith(("http://", "https://")):
        url = canonical_url(guid)
    lines = [title]
    size = len(title)
    for sentence in sentences:
        if sentence == title:
            continue
        if size + len(sentence) + 1 > MAX_TEXT:
            break
        lines.append(sentence)
        size += len(sentence) + 1
    return Item(guid, url, title, tuple(lines), _published(entry))


def _published(entry: Any) -> dt.datetime | None:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if stamp is None:
        return None
    try:
        # feedparser gives a UTC struct_time; timegm reads it as UTC, without the local zone.
        return dt.datetime.fromtimestamp(calendar.timegm(stamp), dt.UTC)
    except (OverflowError, ValueError, OSError):
        return None


class _Text(HTMLParser):
    """Text of an HTML fragment, a line break at each block."""

    _BLOCKS = frozenset({"p", "br", "div", "li", "h1", "h2", "h3", "h4", "tr", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _plain(fragment: str) -> str:
    if "<" not in fragment and "&" not in fragment:
        return fragment
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    return "".join(parser.parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _sentences(text: str) -> list[str]:
    found: list[str] = []
    for paragraph in text.split("\n"):
        paragraph = _BLANKS.sub(" ", paragraph).strip()
        if paragraph:
            found += [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]
    return found
