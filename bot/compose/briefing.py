"""Compose briefings and source lists from structured facts, in the reader's language."""

from __future__ import annotations

import string

from bot.core.domain import Block, Fact, Library, Source, Status
from bot.i18n.translator import Translator


def fact_text(fact: Fact, tr: Translator) -> str:
    """The fact in the reader's language with every figure formatted by Babel."""
    return _fill(fact.text.get(tr.lang), fact, tr)


def _fill(template: str, fact: Fact, tr: Translator) -> str:
    values = {figure.name: tr.figure(figure) for figure in fact.figures}
    # Formatter rather than str.format so that curated braces can only name figures.
    return string.Formatter().vformat(template, (), values)


class Citations:
    """Numbers sources [1], [2]… in order of first citation."""

    def __init__(self, library: Library) -> None:
        self._library = library
        self._numbers: dict[str, int] = {}

    def cite(self, fact: Fact) -> tuple[int, ...]:
        numbers = []
        for source_id in fact.source_ids():
            if source_id not in self._numbers:
                self._numbers[source_id] = len(self._numbers) + 1
            numbers.append(self._numbers[source_id])
        return tuple(numbers)

    def cited(self) -> list[tuple[int, Source]]:
        return [(n, self._library.sources[sid]) for sid, n in self._numbers.items()]


def status_label(status: Status, tr: Translator) -> str | None:
    """A short warning for facts the reader must not take as current."""
    if status is Status.DENIED:
        return tr.gettext("denied")
    if status is Status.SUPERSEDED:
        return tr.gettext("superseded")
    return None


def status_name(status: Status, tr: Translator) -> str:
    """Every status, named for the reader (a fact card states it)."""
    names = {
        Status.REPORTED: tr.gettext("reported"),
        Status.ANNOUNCED: tr.gettext("announced"),
        Status.CONFIRMED: tr.gettext("confirmed"),
        Status.DENIED: tr.gettext("denied"),
        Status.SUPERSEDED: tr.gettext("superseded"),
    }
    return names[status]


def fact_blocks(fact: Fact, citations: Citations, tr: Translator) -> list[Block]:
    text = fact_text(fact, tr)
    if label := status_label(fact.status, tr):
        text = f"{text} ({label})"
    blocks = [Block("bullet", text, citations=citations.cite(fact))]
    if fact.caveat is not None:
        caveat = _fill(fact.caveat.get(tr.lang), fact, tr)
        blocks.append(Block("note", tr.gettext("Note: {caveat}").format(caveat=caveat)))
    return blocks


def source_line(source: Source, tr: Translator) -> str:
    published = tr.date(source.published) if source.published else tr.gettext("date not stated")
    return tr.gettext("{publisher}, “{title}”, {date}").format(
        publisher=source.publisher, title=source.title, date=published
    )


def source_blocks(citations: Citations, tr: Translator) -> list[Block]:
    cited = citations.cited()
    if not cited:
        return []
    return [Block("title", tr.gettext("Sources")), *_source_lines(cited, tr)]


def _source_lines(cited: list[tuple[int, Source]], tr: Translator) -> list[Block]:
    return [
        Block("source", source_line(source, tr), number=n, url=source.url) for n, source in cited
    ]


def compose_briefing(library: Library, briefing_id: str, tr: Translator) -> list[Block]:
    briefing = library.briefings[briefing_id]
    citations = Citations(library)
    blocks = [Block("title", briefing.headline.get(tr.lang))]
    for fact_id in briefing.fact_ids:
        blocks += fact_blocks(library.facts[fact_id], citations, tr)
    why = tr.gettext("Why it matters: {why}").format(why=briefing.why.get(tr.lang))
    blocks.append(Block("text", why))
    newest = max(library.facts[f].updated for f in briefing.fact_ids)
    blocks.append(Block("note", tr.gettext("Facts as of {date}.").format(date=tr.date(newest))))
    blocks += source_blocks(citations, tr)
    return blocks


def compose_sources(library: Library, tr: Translator) -> list[Block]:
    """Every source any fact rests on, numbered in the order facts cite them."""
    citations = Citations(library)
    for fact in library.facts.values():
        citations.cite(fact)
    title = Block("title", tr.gettext("Sources used by partnerbrief"))
    return [title, *_source_lines(citations.cited(), tr)]


def compose_fact_card(library: Library, fact_id: str, tr: Translator) -> list[Block]:
    """One fact on its own: the fact, its status, its caveat, its dated sources."""
    fact = library.facts[fact_id]
    citations = Citations(library)
    topic = next((t for t in library.topics if t.id == fact.topic), None)
    title = topic.label.get(tr.lang) if topic is not None else tr.gettext("Fact")
    blocks = [Block("title", title)]
    blocks += fact_blocks(fact, citations, tr)
    status = tr.gettext("Status: {status}").format(status=status_name(fact.status, tr))
    blocks.append(Block("text", status))
    blocks.append(
        Block("note", tr.gettext("Facts as of {date}.").format(date=tr.date(fact.updated)))
    )
    blocks += source_blocks(citations, tr)
    return blocks
