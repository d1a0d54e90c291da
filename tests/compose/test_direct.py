"""The direct line that opens an answer: the cited fact's own figure, qualifier and source."""

from __future__ import annotations

import pytest

from bot.compose.direct import Ask, direct_line
from bot.core.domain import Library
from bot.i18n.translator import translator

INVESTED = "stakes-microsoft-invested-over-13bn"
STAKE = "stakes-microsoft-27pct-of-openai-group"
IP = "stakes-ip-rights-extended-to-2032"


def _line(library: Library, fact_id: str, lang: str, ask: Ask) -> str | None:
    tr = translator("fr" if lang == "fr" else "en")
    fact = library.facts[fact_id]
    # As an answer numbers them: the fact's sources first, the attributed one last here.
    numbers = tuple(range(1, len(fact.source_ids()) + 1))
    return direct_line(ask, fact, library, tr, numbers)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "More than $13 billion, according to Financial Times [2]."),
        ("fr", "Plus de 13 milliards de dollars, selon Financial Times [2]."),
    ],
)
def test_an_amount_keeps_the_facts_qualifier_and_names_the_source(
    library: Library, lang: str, expected: str
) -> None:
    assert _line(library, INVESTED, lang, Ask(frozenset({"money"}), frozenset())) == expected


def test_a_year_and_a_share_in_the_readers_format(library: Library) -> None:
    year = Ask(frozenset({"year", "date", "month"}), frozenset())
    assert _line(library, IP, "en", year) == "2032, according to Microsoft [1]."
    share = Ask(frozenset({"percent"}), frozenset())
    assert _line(library, STAKE, "fr", share) == "Environ 27\u00a0%, selon Microsoft [1]."


def test_a_quoted_figure_the_fact_contradicts_gets_a_no(library: Library) -> None:
    """ "Microsoft owns 49 % of OpenAI?": the correction, from the fact."""
    line = _line(library, STAKE, "en", Ask(frozenset(), frozenset({49.0})))
    assert line == "No: roughly 27%, according to Microsoft [1]."
    agrees = _line(library, STAKE, "en", Ask(frozenset(), frozenset({27.0})))
    assert agrees == "Roughly 27%, according to Microsoft [1]."


def test_a_year_quoted_beside_a_share_is_not_a_premise(library: Library) -> None:
    assert _line(library, STAKE, "en", Ask(frozenset(), frozenset({2025.0}))) is None


def test_a_source_question_gets_whom_the_claim_is_attributed_to(library: Library) -> None:
    source = Ask(frozenset(), frozenset(), source=True)
    assert _line(library, INVESTED, "en", source) == "Financial Times [2]."
    seed_own = next(
        f for f in library.facts.values() if f.source_id == "seed-article" and not f.attribution_id
    )
    assert _line(library, seed_own.id, "fr", source) == "L'article [1]."


def test_no_line_when_the_fact_has_no_figure_of_the_kind_asked(library: Library) -> None:
    assert _line(library, IP, "en", Ask(frozenset({"money"}), frozenset())) is None
    assert _line(library, IP, "en", Ask(frozenset(), frozenset())) is None
