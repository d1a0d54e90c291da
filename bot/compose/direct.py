"""The one-line direct answer that opens an answer when the question has one.

"How much has Microsoft invested?" -> "More than $13 billion, according to the Financial Times
[1]." Only what the cited fact holds goes into it: its figure (formatted by Babel, with the
qualifier the fact's own text puts before it: "more than", "about", "environ"), who it is
attributed to, and the citation number. A question that quotes a figure the fact contradicts
("Microsoft owns 49 %?") gets "No: about 27 %, ..."; a question about the source ("which
paper reported it?") gets the source. Anything else (why, how, yes-or-no without a figure)
gets no direct line: the cited facts say it better than a guess.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.domain import Fact, Figure, Lang, Library
from bot.i18n.translator import Translator

_QUALIFIERS: dict[Lang, tuple[str, ...]] = {
    # Longest first: "a little more than" before "more than".
    "en": (
        "a little more than",
        "more than",
        "less than",
        "at least",
        "up to",
        "about",
        "around",
        "roughly",
        "nearly",
        "almost",
        "approximately",
        "over",
        "some",
    ),
    "fr": (
        "un peu plus de",
        "plus de",
        "moins de",
        "au moins",
        "jusqu'à",
        "d'environ",
        "environ",
        "près de",
        "quelque",
        "presque",
    ),
}
_QUANTITIES = ("money", "percent", "count")
_TIMES = ("year", "date", "month")


@dataclass(frozen=True)
class Ask:
    """What the question asks for, as far as a direct line needs to know."""

    wants: frozenset[str]  # figure kinds the answer must carry (retrieval's Query.wants)
    numbers: frozenset[float]  # values the question quotes ("49 %" -> 49.0)
    source: bool = False  # "who reported it?", "selon qui ?"


def direct_line(
    ask: Ask, fact: Fact, library: Library, tr: Translator, numbers: Sequence[int]
) -> str | None:
    """The direct answer from ``fact``, whose sources are cited as ``numbers`` (in the order
    of ``fact.source_ids()``), or None."""
    who = _attributed_to(fact, library, tr)
    cited = dict(zip(fact.source_ids(), numbers, strict=True))
    cite = f"[{cited.get(fact.attribution_id or '', numbers[0])}]"
    if ask.source:
        return tr.gettext("{source} {cite}.").format(source=_capital(who), cite=cite)
    figure = _wanted_figure(ask, fact)
    if figure is None:
        return None
    shown = _qualifier(fact, figure, tr.lang) + tr.figure(figure)
    if _contradicts(ask.numbers, figure):
        line = tr.gettext("No: {answer}, according to {source} {cite}.")
    else:
        line = tr.gettext("{answer}, according to {source} {cite}.")
        shown = _capital(shown)
    return line.format(answer=shown, source=who, cite=cite)


def _wanted_figure(ask: Ask, fact: Fact) -> Figure | None:
    if ask.wants:
        for kinds in (_QUANTITIES, _TIMES):
            for figure in fact.figures:
                if figure.kind in ask.wants and figure.kind in kinds:
                    return figure
        return None
    # No answer type asked, but a figure quoted: check it against the fact's own of its kind.
    if ask.numbers:
        for kind in _QUANTITIES:
            for figure in fact.figures:
                if figure.kind == kind and _comparable(ask.numbers, figure):
                    return figure
    return None


def _values(figure: Figure) -> tuple[float, ...]:
    """What a question could quote for ``figure``: 0.27 is "27 (%)", 13e9 "13 (billion)"."""
    if figure.kind == "percent":
        return (float(figure.value) * 100,)
    if figure.kind == "money":
        amount = float(figure.value)
        return (amount, *(amount / scale for scale in (1e9, 1e6) if amount >= scale))
    if figure.kind in ("year", "count"):
        return (float(figure.value),)
    return ()


def _comparable(numbers: frozenset[float], figure: Figure) -> bool:
    """Whether a quoted number is of the figure's order: up to 100 for a share, millions or
    more (numbers carry their magnitude: "13 milliards" is 13e9) for an amount; a year quoted
    beside either says nothing about it."""
    if figure.kind == "percent":
        return any(0 < n <= 100 for n in numbers)
    if figure.kind == "money":
        return any(n >= 1e6 for n in numbers)
    return False


def _contradicts(numbers: frozenset[float], figure: Figure) -> bool:
    values = _values(figure)
    if not numbers or not values or not _comparable(numbers, figure):
        return False
    return not any(math.isclose(n, v, rel_tol=0.02) for n in numbers for v in values)


def _qualifier(fact: Fact, figure: Figure, lang: Lang) -> str:
    """ "more than " when the fact's text says "more than {invested}"."""
    text = fact.text.get(lang)
    at = text.find("{" + figure.name + "}")
    if at < 0:
        return ""
    before = " ".join(text[:at].split()).lower()
    for qualifier in _QUALIFIERS[lang]:
        if re.search(rf"(?:^|\s){re.escape(qualifier)}$", before):
            return qualifier + ("" if qualifier.endswith("'") else " ")
    return ""


SEED = "seed-article"  # content/README.md: the article the content starts from


def _attributed_to(fact: Fact, library: Library, tr: Translator) -> str:
    """Whom the fact's claim is attributed to: the attribution when there is one, "the
    article" for the seed's own claims (its outlet is not named), else the publisher without
    the blog's name ("Microsoft (Official Microsoft Blog)" -> "Microsoft")."""
    if fact.attribution_id and fact.attribution_id in library.sources:
        source = library.sources[fact.attribution_id]
    elif fact.source_id == SEED:
        return tr.gettext("the article")
    else:
        source = library.sources[fact.source_id]
    return source.publisher.split(" (", 1)[0]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
