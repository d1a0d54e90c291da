"""The semantic signal: WordLlama's static embeddings, whose weights ship inside its PyPI
package, so nothing is downloaded (0.1 ms a question on a 2-core machine).

Two other bundled models were measured against it on the blind dev sets and are not used
(docs/RETRIEVAL.md, "Semantic signal"): multilingual-e5-small ranks far better on its own but
costs 25-60 ms a question and did not raise both dev sets inside the pipeline; Google's USE
multilingual did no better than WordLlama.

Facts are embedded on demand and cached by (fact id, language) for the life of the index (a
content reload builds a new one): a question only ever needs its lexical candidates, and
embedding 100,000 facts up front would take far longer than the index build.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from bot.core.domain import Lang

log = logging.getLogger(__name__)
Vector = npt.NDArray[np.float32]


class Embedder(Protocol):
    def embed(self, texts: Sequence[str], *, passage: bool) -> npt.NDArray[np.float32]:
        """One L2-normalised row per text; ``passage`` for a fact, else a question (models
        trained for retrieval embed the two sides differently)."""
        ...


class _WordLlama:
    def __init__(self, model: object) -> None:
        self._model = model

    def embed(self, texts: Sequence[str], *, passage: bool) -> npt.NDArray[np.float32]:
        vectors = self._model.embed(list(texts), norm=True)  # type: ignore[attr-defined]
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


@cache
def shared_embedder() -> Embedder | None:
    """One model per process: it holds no state between questions."""
    return load_embedder()


def load_embedder() -> Embedder | None:
    """The bundled model, or None when its package is not installed or broken (the bot then
    answers from the lexical index alone)."""
    try:
        return _load_wordllama()
    except ImportError:
        return None
    except (OSError, RuntimeError, ValueError) as exc:
        log.warning("semantic signal off: WordLlama did not load (%s)", exc)
        return None


def _load_wordllama() -> Embedder:
    import wordllama
    from wordllama import WordLlama

    # WordLlama's lookup of its bundled tokenizer is broken in 0.4, and it would otherwise
    # try the Hugging Face hub: point it at the package's own files and forbid fetching.
    model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    return _WordLlama(model)


# At 256 dimensions, 25 texts a fact: at most 4096 x 25 x 1 KB = 100 MB of fact vectors, and
# 64 MB of text vectors (the facts a conversation touches again are the recent ones).
FACTS_KEPT = 4096
TEXTS_KEPT = 65536


class DenseCache:
    """Fact vectors by (fact id, language), computed the first time they are asked: one row for
    the fact's text and one per reader question (content/asked.yaml)."""

    def __init__(self, embedder: Embedder, texts_of: Callable[[str, Lang], Sequence[str]]) -> None:
        self._embedder = embedder
        self._texts_of = texts_of  # (fact id, language) -> the texts to embed, the fact first
        self._vectors: dict[tuple[str, Lang], Vector] = {}
        self._by_text: dict[str, Vector] = {}

    def question(self, question: str) -> Vector:
        rows = self._embedder.embed([question], passage=False)
        asked: Vector = rows[0]
        return asked

    def similarities(self, asked: Vector, fact_ids: Sequence[str], lang: Lang) -> list[float]:
        """Cosine similarity of the question's vector to each fact in ``lang``: to its text or
        to the closest of its reader questions, whichever is closer."""
        missing = {f: self._texts_of(f, lang) for f in fact_ids if (f, lang) not in self._vectors}
        if missing:
            # One call for every text not embedded yet: a text two facts share (a reader
            # question, a fact copied into another language's store) is embedded once.
            new = list(dict.fromkeys(t for texts in missing.values() for t in texts))
            new = [t for t in new if t not in self._by_text]
            if new:
                rows = self._embedder.embed(new, passage=True)
                self._by_text.update(zip(new, rows, strict=True))
            for fact_id, texts in missing.items():
                self._vectors[(fact_id, lang)] = np.stack([self._by_text[t] for t in texts])
        found = [float(np.max(self._vectors[(f, lang)] @ asked)) for f in fact_ids]
        # The oldest go first past the bounds: a store of 100,000 facts with 25 texts each
        # would otherwise hold 5 GB of vectors once every fact had been asked about.
        _forget_oldest(self._vectors, FACTS_KEPT)
        _forget_oldest(self._by_text, TEXTS_KEPT)
        return found


def _forget_oldest(kept: dict[Any, Vector], most: int) -> None:
    while len(kept) > most:
        del kept[next(iter(kept))]
