"""Extractive answers: the best facts in the reader's language, cited, or an honest refusal."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.compose.briefing import Citations, fact_blocks, source_blocks
from bot.compose.direct import Ask, direct_line
from bot.core.domain import Block, Lang, Library, SearchResult
from bot.i18n.translator import Translator


@dataclass(frozen=True)
class Citation:
    n: int
    fact_id: str
    publisher: str
    published: dt.date | None
    url: str | None


@dataclass(frozen=True)
class Answer:
    lang: Lang
    found: bool
    blocks: tuple[Block, ...]
    citations: tuple[Citation, ...] = ()
    fact_ids: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()  # topic ids offered when declining


def extractive_answer(
    library: Library, result: SearchResult, tr: Translator, ask: Ask | None = None
) -> Answer:
    """The best facts, cited; opened by a one-line direct answer when the question has one
    (compose/direct.py), else by "Here is what my sources say:"."""
    if not result.found or not result.hits:
        return decline(library, result, tr)
    citations = Citations(library)
    fact_ids = tuple(hit.fact_id for hit in result.hits)
    first = library.facts[fact_ids[0]]
    line = None
    if ask is not None:
        # Numbered now, the same numbers as the fact's own citation below.
        line = direct_line(ask, first, library, tr, citations.cite(first))
    blocks = [Block("title", line or tr.gettext("Here is what my sources say:"))]
    cited: list[Citation] = []
    for fact_id in fact_ids:
        fact = library.facts[fact_id]
        blocks += fact_blocks(fact, citations, tr)
        for n, source_id in zip(citations.cite(fact), fact.source_ids(), strict=True):
            source = library.sources[source_id]
            cited.append(Citation(n, fact_id, source.publisher, source.published, source.url))
    blocks += source_blocks(citations, tr)
    return Answer(tr.lang, True, tuple(blocks), tuple(cited), fact_ids)


def decline(library: Library, result: SearchResult, tr: Translator) -> Answer:
    newest = library.newest_date()
    as_of = tr.date(newest) if newest else tr.gettext("date not stated")
    blocks = [
        Block(
            "text",
            tr.gettext("I don't have that in my sources (as of {date}).").format(date=as_of),
        )
    ]
    topics = result.topics or tuple(t.id for t in library.topics)
    labels = {t.id: t.label.get(tr.lang) for t in library.topics}
    blocks.append(
        Block(
            "note",
            tr.gettext("You could try: {topics}.").format(
                topics=", ".join(labels[t] for t in topics if t in labels)
            ),
        )
    )
    return Answer(tr.lang, False, tuple(blocks), suggestions=topics)
