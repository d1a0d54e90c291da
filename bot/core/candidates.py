"""A news item the newsroom proposes to an editor: what feeds said, before it is a fact."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

# new: waiting for review; later: put back, shown after the new ones; drafted: an editor is
# turning it into a fact; approved: it became one (``fact_id``); discarded: not news for us.
CandidateState = Literal["new", "later", "drafted", "approved", "discarded"]
CANDIDATE_STATES: tuple[CandidateState, ...] = ("new", "later", "drafted", "approved", "discarded")


@dataclass(frozen=True)
class Link:
    """One outlet's copy of a story."""

    url: str  # canonical: tracking parameters stripped
    outlet: str  # the feed's name, e.g. "Financial Times"
    published: dt.datetime | None = None  # aware, UTC, when the feed gives one


@dataclass(frozen=True)
class Candidate:
    """One story, however many feeds carried it (``links``, first seen first)."""

    id: str  # short and stable: fits a 64-byte callback_data with room for a verb
    title: str
    text: str  # the item's plain text (title, summary), bounded; what a draft may draw on
    links: tuple[Link, ...]
    first_seen: dt.datetime  # aware, UTC, from the injected clock
    matched: tuple[str, ...] = ()  # the lines of ``text`` that made it relevant
    state: CandidateState = "new"
    fact_id: str | None = None  # the fact it became, once approved

    @property
    def published(self) -> dt.datetime | None:
        dates = [link.published for link in self.links if link.published is not None]
        return min(dates) if dates else None
