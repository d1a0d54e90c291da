"""Candidates survive a reopen and come back in review order."""

from __future__ import annotations

import datetime as dt

from bot.core.candidates import Candidate, Link
from bot.store.candidates import CandidateStore
from tests.store.conftest import Where

T0 = dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)


def _candidate(cid: str, minutes: int) -> Candidate:
    return Candidate(
        id=cid,
        title=f"story {cid}",
        text="Microsoft and OpenAI sign a new agreement",
        links=(Link("https://example.org/a", "Example", T0),),
        first_seen=T0 + dt.timedelta(minutes=minutes),
        matched=("Microsoft and OpenAI sign a new agreement",),
    )


def test_review_order_is_new_oldest_first_then_put_back(where: Where) -> None:
    store = CandidateStore.open(where())
    for cid, minutes in (("b", 2), ("a", 1), ("c", 3)):
        store.put(_candidate(cid, minutes))
    store.mark("a", "later")
    store.mark("c", "discarded")
    assert [c.id for c in store.queue()] == ["b", "a"]
    store.close()


def test_candidates_and_their_state_survive_a_reopen(where: Where) -> None:
    store = CandidateStore.open(where())
    store.put(_candidate("a", 1))
    store.mark("a", "approved", fact_id="stakes-new")
    store.close()
    reopened = CandidateStore.open(where())
    found = reopened.get("a")
    assert found is not None
    assert (found.state, found.fact_id, found.published) == ("approved", "stakes-new", T0)
    assert reopened.next() is None
    reopened.close()
