"""A correction note: what a reader was told, what is now known, and the source; and /latest."""

from __future__ import annotations

from collections.abc import Sequence

from bot.compose.briefing import Citations, fact_blocks, fact_text, source_blocks, status_name
from bot.core.domain import Block, Fact, Library, Reply, Status, told
from bot.i18n.translator import Translator


def compose_correction(library: Library, old: Fact, new: Fact, tr: Translator) -> Reply:
    """One short note; ``old`` as it was told (its text and figures), ``new`` as approved."""
    citations = Citations(library)
    title = tr.gettext("Correction")
    before = tr.gettext("You were told: {fact}").format(fact=fact_text(old, tr))
    now_known = tr.gettext("Now known: {fact}").format(fact=fact_text(new, tr))
    blocks = [
        Block("title", title),
        Block("text", before),
        Block("bullet", now_known, citations=citations.cite(new)),
    ]
    if old.status in (Status.SUPERSEDED, Status.DENIED):
        marked = tr.gettext("The earlier fact is now marked {status}.").format(
            status=status_name(old.status, tr)
        )
        blocks.append(Block("note", marked))
    blocks += source_blocks(citations, tr)
    return Reply(tr.lang, tuple(blocks), facts=told((new,)))


def compose_latest(library: Library, fact_ids: Sequence[str], tr: Translator) -> Reply:
    """The last approved facts, newest first, cited like a briefing."""
    if not fact_ids:
        text = tr.gettext("No newly approved facts yet. Send /brief for the briefing.")
        return Reply(tr.lang, (Block("text", text),))
    citations = Citations(library)
    blocks = [Block("title", tr.gettext("Latest approved facts"))]
    facts = [library.facts[f] for f in fact_ids if f in library.facts]
    for fact in facts:
        blocks += fact_blocks(fact, citations, tr)
        when = fact.changed_at.date() if fact.changed_at else fact.updated
        blocks.append(Block("note", tr.gettext("Approved on {date}.").format(date=tr.date(when))))
    blocks += source_blocks(citations, tr)
    return Reply(tr.lang, tuple(blocks), facts=told(facts))
