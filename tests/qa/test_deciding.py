"""The semantic stage: a weak lexical answer stands when the model backs it, and
out-of-scope questions are never rescued."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from bot.content.asked import ReaderQuestions
from bot.content.lexicon import load_lexicon
from bot.core.domain import Hit, Library, SearchResult
from bot.qa import dense
from bot.qa.deciding import Confirmer
from bot.qa.dense import DenseCache, load_embedder
from bot.qa.retrieval.index import FactIndex
from tests.conftest import CONTENT


class _Keywords:
    """A stand-in model: a text's vector is the axis of the first keyword it contains, so
    the test decides which fact is "closest" to a question."""

    def __init__(self, keywords: Sequence[str]) -> None:
        self._keywords = [k.lower() for k in keywords]

    def embed(self, texts: Sequence[str], *, passage: bool) -> npt.NDArray[np.float32]:
        rows = np.zeros((len(texts), len(self._keywords) + 1), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            hit = next((i for i, k in enumerate(self._keywords) if k in text.lower()), -1)
            row[hit] = 1.0
        return rows


@pytest.fixture(scope="module")
def index(library: Library) -> FactIndex:
    return FactIndex(library, load_lexicon(CONTENT))


def _weak(index: FactIndex, *fact_ids: str) -> SearchResult:
    hits = tuple(Hit(f, 0.5, 0.2) for f in fact_ids)
    return SearchResult(hits, False, "weak")


def test_a_weak_answer_stands_when_the_model_puts_the_same_fact_first(index: FactIndex) -> None:
    first, second = "stakes-microsoft-invested-over-13bn", "stakes-microsoft-27pct-of-openai-group"
    confirmer = Confirmer(_Keywords(["13"]))
    result = confirmer.confirm(index, "13 billion?", "en", _weak(index, first, second))
    assert result.found and result.reason == "confirmed"
    assert [h.fact_id for h in result.hits] == [first]


def test_another_hit_the_model_finds_clearly_closer_answers_instead(index: FactIndex) -> None:
    first, second = "stakes-microsoft-invested-over-13bn", "stakes-microsoft-27pct-of-openai-group"
    confirmer = Confirmer(_Keywords(["27"]))
    result = confirmer.confirm(index, "27?", "en", _weak(index, first, second))
    assert result.found and result.reason == "confirmed"
    assert [h.fact_id for h in result.hits] == [second]


class _Leaning:
    """A stand-in model whose question vector leans towards the texts with ``toward`` by
    ``lean`` of cosine more than towards the others."""

    def __init__(self, toward: str, lean: float) -> None:
        self._toward, self._lean = toward, lean

    def embed(self, texts: Sequence[str], *, passage: bool) -> npt.NDArray[np.float32]:
        if not passage:
            return np.array([[0.8, 0.6]] * len(texts), dtype=np.float32)
        near = np.array([0.8, 0.6], dtype=np.float32)  # cosine 1 with the question
        base = 1.0 - self._lean
        far = np.array(
            [base * 0.8 - np.sqrt(1 - base**2) * 0.6, base * 0.6 + np.sqrt(1 - base**2) * 0.8],
            dtype=np.float32,
        )
        return np.array([near if self._toward in t else far for t in texts], dtype=np.float32)


@pytest.mark.parametrize(("lean", "moved"), [(0.02, False), (0.2, True)])
def test_another_hit_must_be_clearly_closer_to_answer_instead(
    index: FactIndex, lean: float, moved: bool
) -> None:
    """A slight preference of the model for another hit is no reason to overrule the
    lexical order: the weak answer is declined; a clear one picks that hit."""
    first, second = "stakes-microsoft-invested-over-13bn", "stakes-microsoft-27pct-of-openai-group"
    confirmer = Confirmer(_Leaning("27", lean))
    result = confirmer.confirm(index, "27?", "en", _weak(index, first, second))
    assert result.found is moved
    assert not moved or [h.fact_id for h in result.hits] == [second]


def test_another_hit_with_too_little_coverage_is_not_chosen(index: FactIndex) -> None:
    first, second = "stakes-microsoft-invested-over-13bn", "stakes-microsoft-27pct-of-openai-group"
    weak = SearchResult((Hit(first, 0.5, 0.2), Hit(second, 0.4, 0.05)), False, "weak")
    result = Confirmer(_Keywords(["27"])).confirm(index, "27?", "en", weak)
    assert not result.found and result.reason == "weak"


def test_the_model_chooses_among_the_hits_with_enough_coverage(index: FactIndex) -> None:
    """Its favourite has too little lexical evidence, so it stands for nothing: the first
    hit, close enough to the question on its own, is the answer."""
    first, second = "stakes-microsoft-invested-over-13bn", "stakes-microsoft-27pct-of-openai-group"
    weak = SearchResult((Hit(first, 0.5, 0.2), Hit(second, 0.4, 0.05)), False, "weak")
    result = Confirmer(_Leaning("27", 0.2)).confirm(index, "27?", "en", weak)
    assert result.found and [h.fact_id for h in result.hits] == [first]


def test_an_out_of_scope_question_is_never_rescued(index: FactIndex) -> None:
    confirmer = Confirmer(_Keywords(["13"]))
    foreign = SearchResult((), False, "foreign")
    assert confirmer.confirm(index, "13 at Amazon?", "en", foreign) is foreign


def test_without_a_model_nothing_changes(index: FactIndex) -> None:
    confirmer = Confirmer(None)
    weak = _weak(index, "stakes-microsoft-invested-over-13bn")
    assert confirmer.confirm(index, "13?", "en", weak) is weak


def test_the_bundled_model_loads_offline_and_embeds_both_sides() -> None:
    embedder = load_embedder()
    assert embedder is not None
    rows = embedder.embed(["How much did Microsoft invest?"], passage=False)
    assert rows.shape[0] == 1 and abs(float(np.linalg.norm(rows[0])) - 1.0) < 1e-3


def _asking(library: Library, fact_id: str, question: str) -> FactIndex:
    asked = {fact_id: ReaderQuestions(en=(question,), fr=(question,))}
    return FactIndex(library, dataclasses.replace(load_lexicon(CONTENT), asked=asked))


def test_a_reader_question_close_to_the_question_backs_the_answer(library: Library) -> None:
    """The model compares the question with the fact's reader questions too, not only its
    text: the closest of them decides."""
    first, second = "stakes-microsoft-invested-over-13bn", "stakes-microsoft-27pct-of-openai-group"
    index = _asking(library, first, "how big a slice of the pie")
    confirmer = Confirmer(_Keywords(["pie"]))
    result = confirmer.confirm(index, "slice of the pie?", "en", _weak(index, first, second))
    assert result.found and [h.fact_id for h in result.hits] == [first]


def test_a_question_mostly_of_words_the_store_lacks_is_not_rescued(library: Library) -> None:
    first = "context-initial-partnership-benefited-both"
    index = _asking(library, first, "qu'a gagné microsoft au départ")
    confirmer = Confirmer(_Keywords(["gagné"]))
    question = "qui a gagné le match du psg hier soir ?"
    assert len(index.query(question, "fr").unknown) > confirmer.tuning.max_unknown
    result = confirmer.confirm(index, question, "fr", _weak(index, first))
    assert not result.found


@pytest.mark.parametrize(("lean", "reordered"), [(0.05, False), (0.3, True)])
def test_a_found_answer_puts_first_the_hit_the_model_finds_far_closer(
    index: FactIndex, lean: float, reordered: bool
) -> None:
    """Two facts that share the question's words: the one the model finds much closer comes
    first; a slight preference leaves the lexical order alone."""
    first, second = "stakes-microsoft-invested-over-13bn", "stakes-microsoft-27pct-of-openai-group"
    found = SearchResult((Hit(first, 0.5, 0.8), Hit(second, 0.4, 0.8)), True, "ok")
    result = Confirmer(_Leaning("27", lean)).confirm(index, "27?", "en", found)
    assert result.found
    expected = [second, first] if reordered else [first, second]
    assert [h.fact_id for h in result.hits] == expected


def test_a_background_fact_is_never_put_before_a_current_one(index: FactIndex) -> None:
    """ "How much did Microsoft invest?" reads like the 2019 billion word for word; it asks
    the sum to date, which the lexical ranking put first."""
    current, background = (
        "stakes-microsoft-invested-over-13bn",
        "context-microsoft-1bn-investment-2019",
    )
    found = SearchResult((Hit(current, 0.5, 0.8), Hit(background, 0.4, 0.8)), True, "ok")
    model = _Preferring("2019")
    question = "how much did microsoft invest in openai"
    result = Confirmer(model).confirm(index, question, "en", found)
    assert [h.fact_id for h in result.hits] == [current, background]
    # Asked about the beginnings, the background fact may come first.
    asked = "how much did microsoft invest in openai at first"
    assert Confirmer(model).confirm(index, asked, "en", found).hits[0].fact_id == background


class _Preferring:
    """A stand-in model that finds every question closest to the facts saying ``word``."""

    def __init__(self, word: str) -> None:
        self._word = word

    def embed(self, texts: Sequence[str], *, passage: bool) -> npt.NDArray[np.float32]:
        rows = np.zeros((len(texts), 2), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            row[0 if not passage or self._word in text else 1] = 1.0
        return rows


class _Spelling(_Keywords):
    """Records what the model is asked to read."""

    def __init__(self, keywords: Sequence[str]) -> None:
        super().__init__(keywords)
        self.read: list[str] = []

    def embed(self, texts: Sequence[str], *, passage: bool) -> npt.NDArray[np.float32]:
        if not passage:
            self.read.extend(texts)
        return super().embed(texts, passage=passage)


def test_the_model_reads_the_question_with_its_misspellings_corrected(index: FactIndex) -> None:
    model = _Spelling(["stargate"])
    weak = _weak(index, "infrastructure-stargate-announced")
    Confirmer(model).confirm(index, "Combien Satrgate prévoit d'investir ?", "fr", weak)
    assert model.read and "stargate" in model.read[-1].lower()
    assert "Combien" in model.read[-1] and "investir" in model.read[-1]


class _Counting(_Keywords):
    """Counts the texts it is asked to embed."""

    def __init__(self, keywords: Sequence[str]) -> None:
        super().__init__(keywords)
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str], *, passage: bool) -> npt.NDArray[np.float32]:
        self.embedded.extend(texts)
        return super().embed(texts, passage=passage)


def test_a_text_two_facts_share_is_embedded_once() -> None:
    """Facts are embedded in one call for all that are new, and a reader question two facts
    share is embedded once; the similarities are those of each fact's own texts."""
    texts = {"a": ["alpha", "shared"], "b": ["beta", "shared"], "c": ["gamma"]}
    model = _Counting(["alpha", "beta", "gamma", "shared"])
    cache = DenseCache(model, lambda fact_id, lang: texts[fact_id])
    asked = cache.question("beta")
    assert cache.similarities(asked, ["a", "b"], "en") == [0.0, 1.0]
    assert cache.similarities(asked, ["b", "c"], "en") == [1.0, 0.0]
    assert sorted(model.embedded) == ["alpha", "beta", "beta", "gamma", "shared"]


def test_the_oldest_vectors_go_first_past_the_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past its bounds the cache forgets the facts and texts embedded longest ago, and embeds
    them again when they are asked about; the similarities do not change."""
    monkeypatch.setattr(dense, "FACTS_KEPT", 2)
    monkeypatch.setattr(dense, "TEXTS_KEPT", 2)
    texts = {"a": ["alpha"], "b": ["beta"], "c": ["gamma"]}
    model = _Counting(["alpha", "beta", "gamma"])
    cache = DenseCache(model, lambda fact_id, lang: texts[fact_id])
    asked = cache.question("alpha")
    assert cache.similarities(asked, ["a", "b"], "en") == [1.0, 0.0]
    assert cache.similarities(asked, ["c"], "en") == [0.0]
    assert cache.similarities(asked, ["a"], "en") == [1.0]
    assert model.embedded == ["alpha", "alpha", "beta", "gamma", "alpha"]
