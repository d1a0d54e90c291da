"""Newsroom candidates in ``newsroom.json``: they survive restarts and none is proposed twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.core.candidates import CANDIDATE_STATES, Candidate, CandidateState, Link
from bot.store.journal import Doc, KeyOf, opened_with
from bot.store.tables import Backend, Tables, backend_of

NEWSROOM_FILE = "newsroom.json"
NEWSROOM = "newsroom"
CANDIDATES = "candidates"
FEEDS = "feeds"  # the intake's status of each feed (bot/store/feeds.py), by feed URL
SEEN = "seen"  # item keys the intake has taken in (bot/store/feeds.py), by key
# Tables of newsroom.json and the field each is keyed by.
TABLE_KEYS: dict[str, KeyOf] = {
    CANDIDATES: lambda doc: str(doc["id"]),
    FEEDS: lambda doc: str(doc["url"]),
    SEEN: lambda doc: str(doc["key"]),
}

# Review order: new stories first (oldest first, so nothing waits forever), then those put back.
_QUEUE_ORDER: dict[CandidateState, int] = {"new": 0, "later": 1}


class CandidateStore:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables
        self._all = {doc["id"]: _from_doc(doc) for doc in tables.table(CANDIDATES).values()}
        tables.observe(self._changed)

    def _changed(self, changes: Mapping[str, Mapping[str, Doc | None]]) -> None:
        for key, doc in changes.get(CANDIDATES, {}).items():
            if doc is None:
                self._all.pop(key, None)
            else:
                self._all[key] = _from_doc(doc)

    @classmethod
    def open(cls, where: Path | Backend) -> CandidateStore:
        return opened_with(backend_of(where).open_tables(NEWSROOM, TABLE_KEYS), cls)

    @property
    def tables(self) -> Tables:
        return self._tables

    def close(self) -> None:
        self._tables.close()

    def get(self, candidate_id: str) -> Candidate | None:
        return self._all.get(candidate_id)

    def put(self, candidate: Candidate) -> None:
        self._tables.put(CANDIDATES, candidate.id, _doc(candidate))
        self._all[candidate.id] = candidate

    def put_many(
        self,
        candidates: Iterable[Candidate],
        also: Mapping[str, Mapping[str, Doc | None]] | None = None,
        *,
        sync: bool = True,
    ) -> None:
        """Candidates, and changes to the other tables of newsroom.json (``also``), in one
        journal write: the intake writes each feed's poll so, without fsync (``sync``; see
        JournaledTables.put_tables)."""
        changed = list(candidates)
        docs: dict[str, Doc | None] = {c.id: _doc(c) for c in changed}
        self._tables.put_tables({CANDIDATES: docs, **(also or {})}, sync=sync)
        for candidate in changed:
            self._all[candidate.id] = candidate

    def set_state(
        self, candidate_id: str, state: CandidateState, fact_id: str | None = None
    ) -> Candidate | None:
        found = self._all.get(candidate_id)
        if found is None:
            return None
        changed = replace(found, state=state, fact_id=fact_id or found.fact_id)
        self.put(changed)
        return changed

    def queue(self) -> list[Candidate]:
        """What an editor has still to look at, in review order."""
        waiting = [c for c in self._all.values() if c.state in _QUEUE_ORDER]
        return sorted(waiting, key=lambda c: (_QUEUE_ORDER[c.state], c.first_seen, c.id))

    def next(self) -> Candidate | None:
        waiting = self.queue()
        return waiting[0] if waiting else None

    def count(self, state: CandidateState) -> int:
        return sum(1 for c in self._all.values() if c.state == state)

    def all(self) -> list[Candidate]:
        return sorted(self._all.values(), key=lambda c: (c.first_seen, c.id))


def _when(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _doc(c: Candidate) -> dict[str, Any]:
    return {
        "id": c.id,
        "title": c.title,
        "text": c.text,
        "links": [
            {"url": link.url, "outlet": link.outlet, "published": _when(link.published)}
            for link in c.links
        ],
        "first_seen": c.first_seen.isoformat(),
        "matched": list(c.matched),
        "state": c.state,
        "fact_id": c.fact_id,
    }


def _from_doc(doc: dict[str, Any]) -> Candidate:
    state = doc.get("state")
    return Candidate(
        id=str(doc["id"]),
        title=str(doc["title"]),
        text=str(doc.get("text", "")),
        links=tuple(
            Link(
                url=str(link["url"]),
                outlet=str(link.get("outlet", "")),
                published=dt.datetime.fromisoformat(link["published"])
                if link.get("published")
                else None,
            )
            for link in doc.get("links", [])
        ),
        first_seen=dt.datetime.fromisoformat(doc["first_seen"]),
        matched=tuple(str(m) for m in doc.get("matched", [])),
        state=state if state in CANDIDATE_STATES else "new",
        fact_id=doc.get("fact_id"),
    )
