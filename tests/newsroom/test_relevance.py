"""Relevance in the store's words, English and French."""

from __future__ import annotations

import pytest

from bot.content.lexicon import load_lexicon
from bot.core.domain import Library
from bot.newsroom.relevance import Relevance
from tests.conftest import CONTENT


def test_the_parties_are_the_companies_most_facts_name(relevance: Relevance) -> None:
    """OpenAI and Microsoft, from the facts themselves."""
    assert set(relevance.parties) == {"OpenAI", "Microsoft"}


@pytest.mark.parametrize(
    "title",
    [
        "Microsoft and OpenAI sign a new definitive agreement",
        "OpenAI files confidentially for an IPO",
        "SoftBank leads a $40 billion funding round in OpenAI",
        "Microsoft et OpenAI renégocient leur partenariat",
        "OpenAI prépare son introduction en Bourse",
        "Microsoft détient environ 27 % d'OpenAI Group PBC",
    ],
)
def test_items_about_the_subject_are_relevant(relevance: Relevance, title: str) -> None:
    """Two parties, or one party and a subject term, in either language."""
    assert relevance.matched([title]) == (title,)


@pytest.mark.parametrize(
    "title",
    [
        "Microsoft unveils a new Xbox controller",
        "OpenAI launches a ChatGPT app for the Mac",
        "Google invests in Anthropic",
        "Microsoft lance une nouvelle version de Windows",
        "OpenAI a mis à jour ChatGPT",
        "Météo : un week-end pluvieux en Bretagne",
        "Ms Smith talks about the IPO market",
    ],
)
def test_items_beside_the_subject_are_not(relevance: Relevance, title: str) -> None:
    """A party alone, foreign companies, generic words or a Ms. are not the subject."""
    assert relevance.matched([title]) == ()


def test_only_the_lines_that_name_the_subject_are_kept(relevance: Relevance) -> None:
    """A party in the title and a term further down make one relevant item."""
    lines = [
        "Microsoft shares a new update",
        "The weather was fine.",
        "It concerns the revenue share it receives from OpenAI.",
    ]
    assert relevance.matched(lines) == (lines[0], lines[2])


def test_new_entities_of_the_store_become_subject_terms(library: Library) -> None:
    """An entity the facts start naming is a subject term after a reload."""
    lexicon = load_lexicon(CONTENT)
    before = Relevance.of(library, lexicon)
    assert before.matched(["OpenAI hires Contoso for its chips"]) == ()
    fact = next(iter(library.facts.values()))
    grown = type(library)(
        facts={**library.facts, "extra": type(fact)(**{**fact.__dict__, "id": "extra",
               "entities": ("Contoso",)})},
        sources=library.sources,
        topics=library.topics,
        briefings=library.briefings,
    )  # fmt: skip
    after = Relevance.of(grown, lexicon)
    assert after.matched(["OpenAI hires Contoso for its chips"]) != ()
