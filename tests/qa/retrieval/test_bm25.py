"""BM25 built from bulk term counts scores every term exactly as bm25s's own index does."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from bot.core.domain import Lang, Library
from bot.core.text import PhraseMatcher, Stems, stopwords
from bot.qa.retrieval.bm25 import CountsBM25
from bot.qa.retrieval.corpus import count_terms


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("b", [0.75, 0.3])
@pytest.mark.parametrize("copies", [1, 40])
def test_scores_equal_the_library_build(
    library: Library, lang: Lang, b: float, copies: int
) -> None:
    stems, skip = Stems(), stopwords(lang)
    matcher = PhraseMatcher([("Microsoft", "@microsoft"), ("Stargate", "§datacenter")])
    shipped = [fact.text.get(lang) for fact in library.facts.values()]
    # Copies cut at different lengths: many document lengths, as in a large store.
    texts = [" ".join(text.split()[: 3 + (i * 7) % 60]) for i, text in enumerate(shipped * copies)]
    counts = count_terms(
        texts, lambda ws: [None if w in skip else stems.stem(w, lang) for w in ws], matcher
    )
    ours = CountsBM25(b=b)
    ours.index_counts(counts)
    docs = []
    for doc in range(counts.size):
        span = slice(counts.starts[doc], counts.starts[doc + 1])
        docs.append(
            [
                counts.terms[t]
                for t, n in zip(counts.term_ids[span], counts.counts[span], strict=True)
                for _ in range(int(n))
            ]
        )
    stock = bm25s.BM25(b=b)
    stock.index(docs, show_progress=False)

    assert set(ours.vocab_dict) == set(stock.vocab_dict)
    for term in counts.terms:
        np.testing.assert_array_equal(ours.get_scores([term]), stock.get_scores([term]))
    query = ["microsoft", "@microsoft", "openai", "investi" if lang == "fr" else "invest"]
    query = [t for t in query if t in stock.vocab_dict]
    assert query
    np.testing.assert_array_equal(ours.get_scores(query), stock.get_scores(query))
    assert ours.get_scores(query).max() > 0
