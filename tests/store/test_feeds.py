"""The intake's tables in newsroom.json survive a reopen; old item keys are pruned."""

from __future__ import annotations

import datetime as dt

from bot.store.candidates import CandidateStore
from bot.store.feeds import FeedStatus, FeedStatusStore, SeenKeys
from tests.store.conftest import Where

T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)


def test_a_feed_status_comes_back_whole_after_a_reopen(where: Where) -> None:
    """Every field, validators and back-off included."""
    status = FeedStatus(
        "https://a.example/feed",
        "A",
        last_fetch=T0,
        http_status=503,
        etag='"abc"',
        last_modified="Mon, 02 Nov 2026 08:00:00 GMT",
        items=12,
        new_stories=3,
        errors=2,
        error="http",
        detail="HTTP 503",
        next_poll=T0 + dt.timedelta(hours=2),
        backoff=dt.timedelta(hours=1, minutes=30),
        moved_to="https://b.example/feed",
    )
    store = CandidateStore.open(where())
    FeedStatusStore(store.tables).put(status)
    store.close()
    reopened = CandidateStore.open(where())
    assert FeedStatusStore(reopened.tables).get(status.url) == status
    assert FeedStatusStore(reopened.tables).all() == [status]
    reopened.close()


def test_seen_keys_survive_a_reopen_and_old_ones_are_pruned(where: Where) -> None:
    """A key remembers its candidate; prune forgets keys first seen before the cutoff."""
    store = CandidateStore.open(where())
    seen = SeenKeys(store.tables)
    seen.add([("g:old", None)], T0)
    seen.add([("g:new", "c1")], T0 + dt.timedelta(days=30))
    store.close()
    store = CandidateStore.open(where())
    seen = SeenKeys(store.tables)
    assert "g:old" in seen and seen.candidate_of("g:new") == "c1"
    assert seen.prune(T0 + dt.timedelta(days=1)) == 1
    assert "g:old" not in seen and len(seen) == 1
    store.close()
