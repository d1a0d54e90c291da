"""The intake's own tables in ``newsroom.json``: each feed's status, and the items taken in.

A feed's status carries what the next conditional GET needs (ETag, Last-Modified), when it is
due and its back-off, so a restart neither refetches everything at once nor forgets an
erring feed. Seen keys (a feed's guid, a canonical URL) say an item was already judged, so
an item is never taken in twice, relevant or not; they are pruned after a while, since the
candidates themselves keep the URLs and titles that dedupe relevant stories for good.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from bot.store.candidates import FEEDS, SEEN
from bot.store.tables import Tables

# Why a poll failed, as /feeds names it (bot/newsroom/report.py words each kind).
FeedErrorKind = Literal[
    "timeout", "too_large", "http", "network", "redirects", "not_feed", "malformed", "internal"
]
FEED_ERROR_KINDS: tuple[FeedErrorKind, ...] = (
    "timeout",
    "too_large",
    "http",
    "network",
    "redirects",
    "not_feed",
    "malformed",
    "internal",
)


@dataclass(frozen=True)
class FeedStatus:
    """One feed as the intake last saw it."""

    url: str
    name: str
    last_fetch: dt.datetime | None = None  # when the last poll ended
    http_status: int | None = None  # of the last answer (304: not modified); None: none came
    etag: str | None = None
    last_modified: str | None = None
    items: int = 0  # entries in the last feed body parsed
    new_stories: int = 0  # candidates this feed was the first to bring, in all
    errors: int = 0  # consecutive failed polls
    error: FeedErrorKind | None = None  # of the last poll, None when it went well
    detail: str = ""  # what the error said (a status, an exception), or a parser's warning
    next_poll: dt.datetime | None = None  # None: due now
    backoff: dt.timedelta = dt.timedelta(0)  # the wait beyond the interval, after errors
    moved_to: str | None = None  # where the last answer came from, after redirects


class FeedStatusStore:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def get(self, url: str) -> FeedStatus | None:
        doc = self._tables.table(FEEDS).get(url)
        return _status_from_doc(doc) if doc is not None else None

    def put(self, status: FeedStatus) -> None:
        self._tables.put(FEEDS, status.url, status_doc(status))

    def all(self) -> list[FeedStatus]:
        return [_status_from_doc(doc) for doc in self._tables.table(FEEDS).values()]


class SeenKeys:
    """Item keys already judged, each with when it was first seen and the candidate it fed."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def __contains__(self, key: str) -> bool:
        return key in self._tables.table(SEEN)

    def candidate_of(self, key: str) -> str | None:
        doc = self._tables.table(SEEN).get(key)
        return str(doc["candidate"]) if doc and doc.get("candidate") else None

    def add(self, keys: Iterable[tuple[str, str | None]], at: dt.datetime) -> None:
        """Record ``(key, candidate id or None)`` pairs in one journal write."""
        self._tables.put_many(SEEN, seen_docs(keys, at))

    def prune(self, before: dt.datetime) -> int:
        """Forget keys first seen before ``before``; returns how many."""
        cutoff = before.isoformat()
        old = [k for k, doc in self._tables.table(SEEN).items() if str(doc["at"]) < cutoff]
        self._tables.put_many(SEEN, dict.fromkeys(old))
        return len(old)

    def __len__(self) -> int:
        return len(self._tables.table(SEEN))


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def seen_docs(
    keys: Iterable[tuple[str, str | None]], at: dt.datetime
) -> dict[str, dict[str, Any] | None]:
    """The SEEN table's documents for ``(key, candidate id or None)`` pairs."""
    return {key: {"key": key, "at": at.isoformat(), "candidate": cid} for key, cid in keys}


def status_doc(s: FeedStatus) -> dict[str, Any]:
    """The FEEDS table's document for a status."""
    return {
        "url": s.url,
        "name": s.name,
        "last_fetch": _when(s.last_fetch),
        "http_status": s.http_status,
        "etag": s.etag,
        "last_modified": s.last_modified,
        "items": s.items,
        "new_stories": s.new_stories,
        "errors": s.errors,
        "error": s.error,
        "detail": s.detail,
        "next_poll": _when(s.next_poll),
        "backoff": s.backoff.total_seconds(),
        "moved_to": s.moved_to,
    }


def _status_from_doc(doc: dict[str, Any]) -> FeedStatus:
    def when(key: str) -> dt.datetime | None:
        value = doc.get(key)
        return dt.datetime.fromisoformat(value) if value else None

    error = doc.get("error")
    status = doc.get("http_status")
    return FeedStatus(
        url=str(doc["url"]),
        name=str(doc.get("name", "")),
        last_fetch=when("last_fetch"),
        http_status=int(status) if status is not None else None,
        etag=doc.get("etag"),
        last_modified=doc.get("last_modified"),
        items=int(doc.get("items", 0)),
        new_stories=int(doc.get("new_stories", 0)),
        errors=int(doc.get("errors", 0)),
        error=error if error in FEED_ERROR_KINDS else None,
        detail=str(doc.get("detail", "")),
        next_poll=when("next_poll"),
        backoff=dt.timedelta(seconds=float(doc.get("backoff", 0))),
        moved_to=doc.get("moved_to"),
    )
