"""Analysing a whole corpus at once gives every document exactly the terms a per-document
analysis gives it: each lexicon label once, and the stem of every non-stopword occurrence."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest

from bot.content.lexicon import load_lexicon
from bot.core.domain import Lang, Library
from bot.core.text import PhraseMatcher, Stems, fold, stopwords, words
from bot.qa.retrieval import corpus
from bot.qa.retrieval.corpus import TermCounts, count_terms
from tests.conftest import CONTENT


def _word_terms(lang: Lang):
    stems, skip = Stems(), stopwords(lang)

    def word_terms(distinct: Sequence[str]) -> list[str | None]:
        return [None if w in skip else stems.stem(w, lang) for w in distinct]

    return word_terms


def _one_by_one(texts: list[str], lang: Lang, matcher: PhraseMatcher) -> list[Counter[str]]:
    word_terms = _word_terms(lang)
    expected = []
    for text in texts:
        tokens = words(fold(text))
        terms = [t for t in word_terms(tokens) if t is not None]
        expected.append(Counter(matcher.labels(tokens) + terms))
    return expected


def _as_counters(counts: TermCounts) -> list[Counter[str]]:
    found = []
    for doc in range(counts.size):
        span = slice(counts.starts[doc], counts.starts[doc + 1])
        ids, tallies = counts.term_ids[span].tolist(), counts.counts[span].tolist()
        found.append(Counter({counts.terms[i]: int(n) for i, n in zip(ids, tallies, strict=True)}))
    return found


MATCHER = PhraseMatcher(
    [
        ("introduction en bourse", "§ipo"),
        ("IPO", "§ipo"),
        ("centres de données", "§datacenter"),
        ("Microsoft", "@microsoft"),
        ("open ai", "@openai"),
        ("OpenAI", "@openai"),
    ]
)


@pytest.mark.parametrize("batch", [4096, 2])
def test_small_corpus_matches_the_per_document_analysis(
    batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(corpus, "_BATCH", batch)  # texts are split a batch at a time
    texts = [
        "L'introduction en bourse d'OpenAI : une IPO, puis une autre IPO.",
        "",
        "Des centres de données, des CENTRES DE DONNÉES et des centres de calcul.",
        "introduction en",  # a phrase cut short by the end of the document
        "bourse de Microsoft\x00Microsoft",  # a NUL inside a text is not a document break
        "Open-AI et Microsoft, Microsoft.",
        # Invisible characters join a word; no-break spaces and apostrophes separate words.
        "Micro\u200bsoft a investi 13\u00a0milliards\u202fde dollars dans l’IPO",
    ]
    counts = count_terms(texts, _word_terms("fr"), MATCHER)
    assert counts.size == len(texts)
    assert _as_counters(counts) == _one_by_one(texts, "fr", MATCHER)
    assert counts.doc_terms(2) >= {"§datacenter", "centr", "donne"}
    assert "introduction" in counts.surface


def test_a_phrase_never_runs_across_two_documents() -> None:
    counts = count_terms(["introduction en", "bourse"], _word_terms("fr"), MATCHER)
    assert all("§ipo" not in counts.doc_terms(d) for d in range(2))


def test_document_lengths_count_repeats_and_labels_once() -> None:
    counts = count_terms(["IPO IPO IPO", "partage"], _word_terms("en"), MATCHER)
    # "ipo" stemmed three times plus the §ipo label once; "partag" once.
    assert counts.doc_lengths().tolist() == [4.0, 1.0]


def test_no_texts_means_no_documents() -> None:
    counts = count_terms([], _word_terms("en"), MATCHER)
    assert counts.size == 0
    assert counts.doc_lengths().tolist() == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_shipped_facts_analyse_the_same_in_bulk(library: Library, lang: Lang) -> None:
    lexicon = load_lexicon(CONTENT)
    matcher = PhraseMatcher(
        [(term, "§" + c) for c, terms in lexicon.concepts.items() for term in terms]
        + [
            (alias, "@" + name)
            for name, aliases in lexicon.entity_aliases.items()
            for alias in aliases
        ]
    )
    texts = [
        f"{fact.text.get(lang)} {' '.join(fact.entities)}"
        + ("" if fact.caveat is None else f" {fact.caveat.get(lang)}")
        for fact in library.facts.values()
    ]
    counts = count_terms(texts, _word_terms(lang), matcher)
    expected = _one_by_one(texts, lang, matcher)
    assert _as_counters(counts) == expected
    assert any(term.startswith("§") for doc in expected for term in doc)


def test_a_name_inside_a_not_names_phrase_is_a_common_word() -> None:
    matcher = PhraseMatcher([("Arm", "@arm"), ("profit", "§profit"), ("OpenAI", "@openai")])
    not_names = PhraseMatcher([("profit arm", "")])
    texts = ["OpenAI's for-profit arm", "Arm and OpenAI's for-profit arm", "arm"]
    counts = count_terms(texts, _word_terms("en"), matcher, not_names=not_names)
    assert "@arm" not in counts.doc_terms(0)
    # The word is still a word, and a label that is not a name is still given.
    assert {"arm", "§profit", "@openai"} <= counts.doc_terms(0)
    assert "@arm" in counts.doc_terms(1)
    assert "@arm" in counts.doc_terms(2)
