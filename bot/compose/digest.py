"""Compose a subscriber's digest: what changed in the fact store since their last one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from bot.compose.briefing import Citations, fact_blocks, source_blocks
from bot.core.domain import FACT_TOPICS, Block, Fact, Library
from bot.i18n.translator import Translator


def changed_facts(
    library: Library,
    since: dt.datetime,
    until: dt.datetime,
    topics: Collection[str] | None = None,
) -> list[Fact]:
    """The facts that became news after ``since`` and by ``until`` (a fact dated in the future
    is news on its day, not before), in ``topics`` only when given (None: every topic)."""
    return [
        f
        for f in library.facts.values()
        if since < f.news_at <= until and (topics is None or f.topic in topics)
    ]


def _revisions(fact: Fact, tr: Translator) -> list[str]:
    """'a figure revised from X to Y' for each figure whose value changed."""
    before = {f.name: f for f in fact.previous_figures}
    notes = []
    for figure in fact.figures:
        old = before.get(figure.name)
        if old is not None and (old.value, old.currency) != (figure.value, figure.currency):
            notes.append(
                tr.gettext("Revised from {old} to {new}.").format(
                    old=tr.figure(old), new=tr.figure(figure)
                )
            )
    return notes


def compose_digest(
    library: Library,
    since: dt.datetime,
    until: dt.datetime,
    tr: Translator,
    today: dt.date,
    topics: Collection[str] | None = None,
) -> list[Block] | None:
    """The digest blocks, of ``topics`` only when given; None when nothing changed there (the
    caller decides whether to say so)."""
    changed = changed_facts(library, since, until, topics)
    if not changed:
        return None
    title = tr.gettext("partnerbrief digest, {date}").format(date=tr.date(today))
    blocks = [Block("title", title)]
    labels = {t.id: t.label.get(tr.lang) for t in library.topics}
    citations = Citations(library)
    for topic in FACT_TOPICS:
        facts = sorted((f for f in changed if f.topic == topic), key=lambda f: f.id)
        if not facts:
            continue
        blocks.append(Block("title", labels.get(topic, tr.gettext("Background"))))
        for fact in facts:
            blocks += fact_blocks(fact, citations, tr)
            blocks += [Block("note", note) for note in _revisions(fact, tr)]
    blocks += source_blocks(citations, tr)
    return blocks


def quiet_digest(
    library: Library, previous: dt.date, tr: Translator, today: dt.date
) -> list[Block]:
    """'No new developments' since the ``previous`` digest's day, with the overview's headline
    facts as a reminder."""
    title = tr.gettext("partnerbrief digest, {date}").format(date=tr.date(today))
    note = tr.gettext("No new developments since {date}. The key figures:").format(
        date=tr.date(previous)
    )
    blocks = [Block("title", title), Block("text", note)]
    citations = Citations(library)
    overview = library.briefings.get("overview")
    for fact_id in overview.fact_ids[:3] if overview else ():
        blocks += fact_blocks(library.facts[fact_id], citations, tr)[:1]
    blocks += source_blocks(citations, tr)
    return blocks
