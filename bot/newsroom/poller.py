"""The intake: poll the feeds that are due, judge their items, keep one candidate per story.

A cycle fetches every due feed at once (a few at a time), and each feed's items are judged
as soon as its body is parsed: nothing waits on the slowest feed but the cycle's end. What
a poll learns is written before the next poll starts, so a restart picks up where it was:
conditional-GET validators, the next due time, back-off and the keys of every item judged.

An item is taken in once: its guid, or its canonical URL, seen before in that feed ends it
there; otherwise a copy of a known story (same URL, or a near-identical headline within a
fortnight) adds its outlet's link to that candidate, and a relevant new story becomes a new
candidate. An irrelevant item is remembered by its keys too, so it is not judged again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import httpx

from bot.content.feeds import FeedSpec
from bot.core.candidates import Candidate, Link
from bot.core.clock import Clock
from bot.newsroom.dedupe import Deduper
from bot.newsroom.fetch import Fetched, fetch, retry_after
from bot.newsroom.parsing import Item, ParsedFeed, parse_feed
from bot.newsroom.relevance import Relevance
from bot.store.candidates import FEEDS, SEEN, CandidateStore
from bot.store.feeds import FeedStatus, FeedStatusStore, SeenKeys, seen_docs, status_doc

log = logging.getLogger(__name__)

Parse = Callable[[bytes, str, str | None], ParsedFeed]
MAX_BACKOFF = dt.timedelta(hours=24)
SEEN_FOR = dt.timedelta(days=60)  # long past any item a feed still lists
CONCURRENCY = 8


@dataclass(frozen=True)
class CycleReport:
    polled: int = 0
    new_stories: int = 0
    new_links: int = 0
    errors: int = 0


@dataclass
class _Batch:
    """One feed's poll, written to newsroom.json at once (one fsync, not one per story)."""

    candidates: dict[str, Candidate] = field(default_factory=dict)
    seen: dict[str, str | None] = field(default_factory=dict)
    new_stories: int = 0
    new_links: int = 0


@dataclass(frozen=True)
class _Story:
    id: str
    new: bool
    links_added: int


class Intake:
    def __init__(
        self,
        feeds: Sequence[FeedSpec],
        candidates: CandidateStore,
        client: httpx.AsyncClient,
        clock: Clock,
        relevance: Callable[[], Relevance],
        *,
        timeout: float,
        max_bytes: int,
        parse: Parse = parse_feed,
    ) -> None:
        self.feeds = tuple(feeds)
        self._candidates = candidates
        self._statuses = FeedStatusStore(candidates.tables)
        self._seen = SeenKeys(candidates.tables)
        self._client = client
        self._clock = clock
        self._relevance = relevance
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._parse = parse
        self._dedupe = Deduper(candidates.all())
        self._pruned: dt.datetime | None = None
        self._running: asyncio.Task[CycleReport] | None = None
        # One parser thread: under the GIL more would not parse faster, only take more turns
        # from the event loop.
        self._parser = ThreadPoolExecutor(1, thread_name_prefix="feed-parse")

    def statuses(self) -> list[FeedStatus]:
        """Each feed in force, in the configured order, as last polled (or never)."""
        return [self._status(spec) for spec in self.feeds]

    def _status(self, spec: FeedSpec) -> FeedStatus:
        status = self._statuses.get(spec.url)
        if status is None:
            return FeedStatus(spec.url, spec.name)
        return replace(status, name=spec.name)

    def due(self, now: dt.datetime) -> list[FeedSpec]:
        return [
            spec
            for spec in self.feeds
            if (when := self._status(spec).next_poll) is None or when <= now
        ]

    async def poll_due(self) -> CycleReport:
        """One cycle over the feeds that are due; a stop request cancels it between feeds'
        steps (what a finished feed learnt is kept)."""
        if self._running is not None:
            return CycleReport()  # the job never overlaps itself; a second caller waits not
        self._running = asyncio.ensure_future(self._cycle())
        try:
            return await self._running
        except asyncio.CancelledError:
            if self._running.cancelled():
                return CycleReport()
            raise
        finally:
            self._running = None

    async def aclose(self) -> None:
        """Stop a cycle under way and close the client (the store is the root's)."""
        self.request_stop()
        await self._client.aclose()
        self._parser.shutdown(wait=True, cancel_futures=True)

    def request_stop(self) -> None:
        if self._running is not None:
            self._running.cancel()

    async def _cycle(self) -> CycleReport:
        now = self._clock()
        self._prune(now)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(spec: FeedSpec) -> tuple[int, int, bool]:
            async with gate:
                return await self._poll_feed(spec)

        results = await asyncio.gather(*(one(spec) for spec in self.due(now)))
        return CycleReport(
            polled=len(results),
            new_stories=sum(r[0] for r in results),
            new_links=sum(r[1] for r in results),
            errors=sum(1 for r in results if not r[2]),
        )

    async def _poll_feed(self, spec: FeedSpec) -> tuple[int, int, bool]:
        """(new stories, new links, went well) for one feed; never raises but cancellation."""
        before = self._status(spec)
        try:
            fetched = await fetch(
                self._client,
                spec.url,
                etag=before.etag,
                last_modified=before.last_modified,
                deadline=self._timeout,
                max_bytes=self._max_bytes,
            )
            parsed = None
            if fetched.body is not None:
                # feedparser is pure-Python CPU work: 50-200 ms for a large feed.
                parsed = await asyncio.get_running_loop().run_in_executor(
                    self._parser, self._parse, fetched.body, fetched.url, fetched.content_type
                )
            return self._record(spec, before, fetched, parsed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one feed's surprise must not end the cycle for the others
            log.exception("polling %s failed", spec.url)
            failed = Fetched(spec.url, error="internal", detail=type(exc).__name__)
            return self._record(spec, before, failed, None)

    def _record(
        self, spec: FeedSpec, before: FeedStatus, fetched: Fetched, parsed: ParsedFeed | None
    ) -> tuple[int, int, bool]:
        now = self._clock()
        error, detail = fetched.error, fetched.detail
        batch = _Batch()
        items = before.items
        if parsed is not None:  # a body came: whether it was a feed is the parser's say
            error, detail = parsed.error, parsed.warning
            if error is None:
                items = len(parsed.items)
                self._take_in(spec, parsed.items, now, batch)
        new_stories, new_links = batch.new_stories, batch.new_links
        moved = fetched.url if fetched.url != spec.url else None
        if error is None:
            status = replace(
                before,
                name=spec.name,
                last_fetch=now,
                http_status=fetched.status,
                etag=fetched.etag or (before.etag if fetched.status == 304 else None),
                last_modified=fetched.last_modified
                or (before.last_modified if fetched.status == 304 else None),
                items=items,
                new_stories=before.new_stories + new_stories,
                errors=0,
                error=None,
                detail=detail,
                next_poll=now + spec.interval,
                backoff=dt.timedelta(0),
                moved_to=moved,
            )
        else:
            errors = before.errors + 1
            backoff = min(spec.interval * (2**errors - 1), max(MAX_BACKOFF, spec.interval))
            floor = retry_after(fetched.retry_after, now)
            if floor is not None:
                backoff = max(backoff, min(floor, MAX_BACKOFF))
            status = replace(
                before,
                name=spec.name,
                last_fetch=now,
                http_status=fetched.status,
                errors=errors,
                error=error,
                detail=detail,
                next_poll=now + spec.interval + backoff,
                backoff=backoff,
                moved_to=moved,
            )
            log.warning("feed %s: %s %s (%d in a row)", spec.url, error, detail, errors)
        self._candidates.put_many(
            batch.candidates.values(),
            {SEEN: seen_docs(batch.seen.items(), now), FEEDS: {spec.url: status_doc(status)}},
            # A power cut may lose this poll (never a kill -9): the next poll redoes it, to
            # the same candidate ids. Not worth an fsync's milliseconds per feed on the loop.
            sync=False,
        )
        for candidate in batch.candidates.values():
            self._dedupe.add(candidate)
        return new_stories, new_links, error is None

    def _take_in(
        self, spec: FeedSpec, items: Sequence[Item], now: dt.datetime, batch: _Batch
    ) -> None:
        relevance = self._relevance()
        for item in items:
            guid_key = f"g:{spec.url}:{item.guid}" if item.guid else None
            # Per feed, as guids are: another feed's copy of a URL may read as irrelevant
            # (a bare headline) where this one does not; copies across feeds meet in the
            # candidates (Deduper), not here.
            url_key = f"u:{spec.url}:{item.url}" if item.url else None
            keys = [k for k in (guid_key, url_key) if k]
            if not keys:
                keys = [f"t:{spec.url}:{item.title}"]
            if any(k in self._seen or k in batch.seen for k in keys):
                # A feed that renews every guid still repeats its links: the new guid is
                # not worth remembering (it would grow the table at every fetch).
                continue
            story = self._story(spec, item, relevance, now, batch)
            if story is not None:
                batch.new_stories += story.new
                batch.new_links += story.links_added
            batch.seen.update(dict.fromkeys(keys, story.id if story else None))

    def _story(
        self, spec: FeedSpec, item: Item, relevance: Relevance, now: dt.datetime, batch: _Batch
    ) -> _Story | None:
        """The candidate an item is a copy of (its link added), or a new one if it is
        relevant; None when it is neither."""
        link = Link(item.url or "", spec.name, item.published)
        known = (self._dedupe.by_url(item.url) if item.url else None) or self._dedupe.by_title(
            item.title, now
        )
        if known is not None:
            return _Story(known, False, self._add_link(known, link, batch))
        matched = relevance.matched(item.lines)
        if not matched:
            return None
        candidate = Candidate(
            id=self._new_id(item.url or f"{spec.url}#{item.guid or item.title}", batch),
            title=item.title,
            text=item.text,
            links=(link,) if item.url else (),
            first_seen=now,
            matched=matched,
        )
        batch.candidates[candidate.id] = candidate
        self._dedupe.add(candidate)
        return _Story(candidate.id, True, 0)

    def _add_link(self, candidate_id: str, link: Link, batch: _Batch) -> int:
        """One link per outlet: another copy from an outlet already listed adds nothing."""
        candidate = batch.candidates.get(candidate_id) or self._candidates.get(candidate_id)
        if candidate is None or not link.url:
            return 0
        if any(had.outlet == link.outlet or had.url == link.url for had in candidate.links):
            return 0
        batch.candidates[candidate_id] = replace(candidate, links=(*candidate.links, link))
        return 1

    def _new_id(self, basis: str, batch: _Batch) -> str:
        digest = hashlib.blake2b(basis.encode(), digest_size=8).hexdigest()
        for size in (10, 12, 16):
            ident = digest[:size]
            if self._candidates.get(ident) is None and ident not in batch.candidates:
                return ident
        raise RuntimeError(f"no free candidate id for {basis!r}")

    def _prune(self, now: dt.datetime) -> None:
        """Once a day: forget the keys of items no feed can still be listing."""
        if self._pruned is not None and now - self._pruned < dt.timedelta(days=1):
            return
        self._pruned = now
        dropped = self._seen.prune(now - SEEN_FOR)
        if dropped:
            log.info("forgot %d item keys older than %d days", dropped, SEEN_FOR.days)
