"""Two decisions about a question, made apart: is it about our subject at all (scope), and if
so, do the facts answer it (found).

Scope comes first. A question is out of scope when it names a company, person or subject the
store does not cover (lexicon ``foreign_entities`` and ``foreign_topics``), when it only tries
to override the rules, or when nothing in it is a word of the store: it is refused, with
topics to try. Any other question is in scope, and is answered with the best facts unless they
do not hold what it asks (the lexical index's coverage and figure checks, see index.py).

A weak lexical answer to an in-scope question gets a second opinion (``Confirmer``): when a
semantic model (qa/dense.py) ranks the same fact first among the index's candidates, and close
enough to the question, the answer stands. Readers paraphrase; the lexicon cannot list every
way of saying "how much did Microsoft pour into OpenAI".
"""

from __future__ import annotations

import string
from dataclasses import dataclass, replace
from typing import Literal

from bot.compose.direct import Ask
from bot.core.domain import Fact, Lang, Library, SearchResult
from bot.qa.dense import DenseCache, Embedder, Model
from bot.qa.retrieval.index import FactIndex

Scope = Literal["in", "out"]
POOL = 20  # lexical candidates the fusion re-ranks
# Reasons the index gives that mean "not about our subject", as against "not in the facts".
_OUT_OF_SCOPE = frozenset({"foreign", "injection", "empty"})
# Calibrated on tests/eval/blind_dev.yaml (never on the holdout): the weakest lexical coverage
# a confirmed answer may have, and the least cosine similarity of question and fact.


@dataclass(frozen=True)
class Tuning:
    """The semantic stage's knobs, calibrated on tests/eval/blind_dev.yaml only (never on a
    holdout). The defaults are WordLlama's second opinion; ``E5_FUSED`` is the fusion that was
    measured against it (docs/RETRIEVAL.md) and not kept."""

    min_coverage: float = 0.15  # the weakest lexical coverage a semantic answer may have
    min_similarity: float = 0.38  # the least cosine similarity of question and fact
    fuse: bool = False  # re-rank the lexical pool by both signals, not only confirm
    semantic_weight: float = 1.0  # of the semantic rank in the reciprocal-rank fusion
    rrf_k: float = 2.0  # reciprocal-rank fusion's damping constant
    max_unknown: int = 1  # words the store lacks that a semantic answer tolerates


# e5's cosine similarities sit between 0.75 and 0.95 for any two texts of the same domain, and
# USE's lower than WordLlama's: each model's threshold is its own, chosen on blind_dev.
_SIMILARITY: dict[Model, float] = {"wordllama": 0.38, "use": 0.4, "e5": 0.88}


def tuning_for(model: Model, *, fuse: bool = False) -> Tuning:
    """The calibrated knobs for ``model``; ``fuse`` only as measured for e5."""
    if fuse:
        return Tuning(min_coverage=0.2, min_similarity=0.85, fuse=True, max_unknown=1)
    return Tuning(min_similarity=_SIMILARITY[model])


def scope_of(result: SearchResult) -> Scope:
    return "out" if result.reason in _OUT_OF_SCOPE else "in"


def ask_of(index: FactIndex, question: str, lang: Lang, source: bool) -> Ask:
    """What a direct answer line needs to know of the question."""
    query = index.query(question, lang)
    return Ask(query.wants, query.numbers, source=source)


def reported_first(library: Library, result: SearchResult) -> SearchResult:
    """For "who reported that?": among facts that answer as well, a report attributed to an
    outlet comes before a company's own statement, since the question presumes a report."""
    if not result.found or len(result.hits) < 2:
        return result
    hits = sorted(result.hits, key=lambda hit: library.facts[hit.fact_id].attribution_id is None)
    return replace(result, hits=tuple(hits))


class _Unformatted(dict[str, str]):
    """Placeholders of a fact's text, filled with their raw values for the embedder."""

    def __init__(self, fact: Fact) -> None:
        super().__init__({f.name: str(f.value) for f in fact.figures})

    def __missing__(self, key: str) -> str:
        return ""


def _plain_text(fact: Fact, lang: str) -> str:
    text = fact.text.fr if lang == "fr" else fact.text.en
    return string.Formatter().vformat(text, (), _Unformatted(fact))


@dataclass
class _IndexCache:
    index: FactIndex
    cache: DenseCache


class Confirmer:
    """The semantic ranker: fuses a semantic model's ranking of the lexical candidates with
    the lexical one, and answers an in-scope question the lexical coverage found too weak when
    the model finds a fact close to it. Without an embedder it changes nothing."""

    def __init__(self, embedder: Embedder | None, tuning: Tuning | None = None) -> None:
        self._embedder = embedder
        self._current: _IndexCache | None = None
        self.tuning = tuning or Tuning()

    @property
    def active(self) -> bool:
        return self._embedder is not None

    @property
    def pool(self) -> int:
        """How many lexical candidates a search must keep for this stage (their coverage
        costs time at 100,000 facts, so none unless fusing)."""
        return POOL if self.tuning.fuse and self.active else 0

    def _cache(self, index: FactIndex) -> DenseCache | None:
        if self._embedder is None:
            return None
        current = self._current
        if current is None or current.index is not index:
            # A reload builds a new index: its facts may have changed, so do their vectors.
            library = index.library
            cache = DenseCache(
                self._embedder, lambda fact_id, lang: _plain_text(library.facts[fact_id], lang)
            )
            current = self._current = _IndexCache(index, cache)
        return current.cache

    def confirm(
        self,
        index: FactIndex,
        question: str,
        lang: Lang,
        result: SearchResult,
        context: str | None = None,
    ) -> SearchResult:
        """``result``, found after all when the semantic model backs a weak lexical answer
        (or, with ``Tuning.fuse``, re-ranked by both signals)."""
        if result.reason in _OUT_OF_SCOPE or result.reason == "premise":
            return result
        cache = self._cache(index)
        if cache is None:
            return result
        asked = f"{context} {question}" if context else question
        if self.tuning.fuse:
            return self._fused(index, cache, question, asked, lang, result)
        return self._second_opinion(cache, asked, lang, result)

    def _second_opinion(
        self, cache: DenseCache, asked: str, lang: Lang, result: SearchResult
    ) -> SearchResult:
        """A weak lexical answer stands when the model puts the same fact first among the
        lexical hits, close enough to the question."""
        if result.found or result.reason != "weak" or not result.hits:
            return result
        top = result.hits[0]
        if top.coverage < self.tuning.min_coverage:
            return result
        similarities = cache.similarities(
            cache.question(asked), [h.fact_id for h in result.hits], lang
        )
        best = max(range(len(similarities)), key=similarities.__getitem__)
        if best != 0 or similarities[0] < self.tuning.min_similarity:
            return result
        return replace(result, hits=(top,), found=True, reason="confirmed")

    def _fused(
        self,
        index: FactIndex,
        cache: DenseCache,
        question: str,
        asked: str,
        lang: Lang,
        result: SearchResult,
    ) -> SearchResult:
        """Reciprocal-rank fusion of the lexical and semantic rankings of the lexical pool;
        the best fused fact is an answer when the lexical thresholds pass, or when the model
        finds it close and the question has at most ``max_unknown`` words the store lacks."""
        tuning, thresholds = self.tuning, index.thresholds
        query = index.query(question, lang)
        pool = [
            h for h in result.pool if not query.wants or _kinds(index, h.fact_id) & query.wants
        ]
        if not pool:
            return result
        similarities = cache.similarities(cache.question(asked), [h.fact_id for h in pool], lang)
        by_meaning = sorted(range(len(pool)), key=lambda i: -similarities[i])
        meaning_rank = {i: r for r, i in enumerate(by_meaning)}
        fused = sorted(
            range(len(pool)),
            key=lambda i: (
                -(
                    1 / (tuning.rrf_k + i)
                    + tuning.semantic_weight / (tuning.rrf_k + meaning_rank[i])
                )
            ),
        )
        hit, similarity = pool[fused[0]], similarities[fused[0]]
        lexical = hit.score >= thresholds.min_score and hit.coverage >= thresholds.min_coverage
        semantic = (
            hit.coverage >= tuning.min_coverage
            and similarity >= tuning.min_similarity
            and len(query.unknown) <= tuning.max_unknown
        )
        if not (lexical or semantic):
            return result  # the lexical decision stands, found or not
        rest = [
            pool[i]
            for i in fused[1:]
            if pool[i].coverage >= thresholds.min_coverage / 2
            and similarities[i] >= tuning.min_similarity
        ]
        reason = result.reason if result.found and result.hits[0] == hit else "confirmed"
        return replace(result, hits=(hit, *rest[:2]), found=True, reason=reason)


def _kinds(index: FactIndex, fact_id: str) -> frozenset[str]:
    return frozenset(figure.kind for figure in index.library.facts[fact_id].figures)
