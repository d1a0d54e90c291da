"""Approved facts: what an editor made of a candidate, and how they join the served Library.

An approved fact is a new fact with an id of its own (never one of content/'s). When it
updates an older fact, that older fact keeps its text and figures but takes the status the
editor chose (superseded or denied), and briefings that listed it list the new one instead.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.core.domain import Fact, Figure, Library, Source, Status

# What an updated fact can become: the statuses content/ already uses for it.
OLD_STATUSES = (Status.SUPERSEDED, Status.DENIED)
MAX_BRIEFING_FACTS = 6  # as content/briefings.yaml allows
_NOT_ID = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Approved:
    """One approved fact, its sources (one per outlet) and what it updates."""

    fact: Fact  # changed_at is the approval instant: digests announce it from then
    sources: tuple[Source, ...]
    candidate_id: str
    editor_id: int
    approved_at: dt.datetime
    updates: str | None = None  # the older fact's id
    old_status: Status | None = None  # what the older fact becomes

    @property
    def corrects(self) -> bool:
        """Whether readers of the older fact are owed a correction."""
        return self.updates is not None and self.old_status is not None


def slug(value: str) -> str:
    """``value`` as a kebab-case id part (content/ ids are lower-case kebab-case)."""
    return _NOT_ID.sub("-", value.lower()).strip("-") or "x"


def fact_id_for(topic: str, candidate_id: str, taken: set[str] | frozenset[str]) -> str:
    """A fact id no content fact nor earlier approval has: ``<topic>-news-<candidate>``."""
    base = f"{topic}-news-{slug(candidate_id)}"
    ident, n = base, 2
    while ident in taken:
        ident, n = f"{base}-{n}", n + 1
    return ident


def merge_library(base: Library, approved: Sequence[Approved]) -> Library:
    """``base`` (content/, as imported) with the approved facts joined in approval order.

    An approved fact whose id content/ took since (a curator added one by hand) is left out
    rather than allowed to replace the curated one; validation refuses such ids at approval.
    """
    facts = dict(base.facts)
    sources = dict(base.sources)
    briefings = dict(base.briefings)
    for item in sorted(approved, key=lambda a: (a.approved_at, a.fact.id)):
        new = item.fact
        if new.id in facts:
            continue
        facts[new.id] = new
        for source in item.sources:
            sources.setdefault(source.id, source)
        old = facts.get(item.updates or "")
        if old is not None and item.old_status is not None:
            facts[old.id] = replace(old, status=item.old_status)
        replaced = False
        for key, briefing in briefings.items():
            if old is not None and old.id in briefing.fact_ids:
                ids = tuple(new.id if f == old.id else f for f in briefing.fact_ids)
                briefings[key] = replace(briefing, fact_ids=ids)
                replaced = True
        topic = briefings.get(new.topic)
        if not replaced and topic is not None and len(topic.fact_ids) < MAX_BRIEFING_FACTS:
            briefings[new.topic] = replace(topic, fact_ids=(*topic.fact_ids, new.id))
    return replace(base, facts=facts, sources=sources, briefings=briefings)


# Where an editor is in turning a candidate into a fact: the guided conversation asks for the
# topic, the status, the English text, the French text and each figure, then shows a preview;
# an LLM draft goes to the preview at once. "older" and "fate": picking the fact it updates.
DraftStep = str
STEPS = ("topic", "status", "text_en", "text_fr", "figure", "preview", "older", "fate")


@dataclass(frozen=True)
class Draft:
    """One editor's draft in progress (kept in the store: it survives a restart)."""

    editor_id: int
    chat_id: int
    candidate_id: str
    step: DraftStep
    topic: str | None = None
    status: str | None = None
    text_en: str | None = None
    text_fr: str | None = None
    figures: tuple[Figure, ...] = ()
    matches: tuple[str, ...] = ()  # the likely older facts offered, by id
    updates: str | None = None
    old_status: str | None = None
    source_lang: str = "en"
    by_model: bool = False
    revising: bool = False  # editing from the preview: back to it when the step is done
