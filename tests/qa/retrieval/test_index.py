"""The fact index builds over any store, even an empty one or facts without figures or names,
and declines rather than fails when it has nothing to rank."""

from __future__ import annotations

import dataclasses

from bot.content.lexicon import load_lexicon
from bot.core.domain import Lang, Library
from bot.qa.retrieval.index import FactIndex
from tests.conftest import CONTENT


def test_an_empty_store_declines_every_question(library: Library) -> None:
    index = FactIndex(dataclasses.replace(library, facts={}), load_lexicon(CONTENT))
    questions: list[tuple[str, Lang]] = [
        ("How much did Microsoft invest?", "en"),
        ("Et la bourse ?", "fr"),
    ]
    for question, lang in questions:
        result = index.search(question, lang)
        assert not result.found and result.hits == ()


def test_a_fact_without_figures_or_names_is_still_found(library: Library) -> None:
    plain = next(
        f
        for f in library.facts.values()
        if "{" not in f.text.en + f.text.fr + (f.caveat.en + f.caveat.fr if f.caveat else "")
    )
    bare = dataclasses.replace(plain, figures=(), entities=())
    index = FactIndex(dataclasses.replace(library, facts={bare.id: bare}), load_lexicon(CONTENT))
    result = index.search(bare.text.en, "en")
    assert result.found and [h.fact_id for h in result.hits] == [bare.id]


def test_a_search_keeps_a_pool_of_candidates_only_when_asked(library: Library) -> None:
    index = FactIndex(library, load_lexicon(CONTENT))
    question = "How much has Microsoft invested in OpenAI?"
    assert index.search(question, "en").pool == ()
    pool = index.search(question, "en", pool=8).pool
    assert 1 < len(pool) <= 8
    assert [h.score for h in pool] == sorted((h.score for h in pool), reverse=True)
    assert all(0.0 <= h.coverage <= 1.0 for h in pool)
