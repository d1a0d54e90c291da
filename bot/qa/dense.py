"""A semantic second opinion on a question the lexical index nearly answered.

WordLlama (``wordllama`` on PyPI) ships its 256-dimension static embeddings and tokenizer inside
the package, so it runs offline with no download: ``load_embedder`` points it at the package's
own files and forbids fetching (WordLlama's lookup of its bundled tokenizer is broken in 0.4,
and it would otherwise try the Hugging Face hub). Embedding a sentence costs about 0.1 ms.

Facts are embedded on demand and cached by (fact id, language) for the life of the index (a
content reload builds a new one): a question only ever
needs its few best lexical candidates, and building vectors for 100,000 facts up front would
take 20 s. Measured on tests/eval/blind_dev.yaml (docs/RETRIEVAL.md): used as a re-ranker on
its own it did not help; used to confirm a weak lexical answer (both agree on the same fact)
it turned five declined questions into correct answers and no refusal into an answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)
Vector = npt.NDArray[np.float32]


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One L2-normalised row per text."""
        ...


class _WordLlama:
    def __init__(self, model: object) -> None:
        self._model = model

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = self._model.embed(list(texts), norm=True)  # type: ignore[attr-defined]
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


@cache
def shared_embedder() -> Embedder | None:
    """One model per process: it holds no state between questions."""
    return load_embedder()


def load_embedder() -> Embedder | None:
    """The bundled WordLlama model, or None when the package is not installed or broken (the
    bot then answers from the lexical index alone, as it did before)."""
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError:
        return None
    try:
        model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    except (OSError, ValueError) as exc:
        log.warning("semantic signal off: WordLlama did not load (%s)", exc)
        return None
    return _WordLlama(model)


class DenseCache:
    """Fact vectors by (fact id, revision, language), computed the first time they are asked."""

    def __init__(self, embedder: Embedder, text_of: Callable[[str, str], str]) -> None:
        self._embedder = embedder
        self._text_of = text_of  # (fact id, language) -> the text to embed
        self._vectors: dict[tuple[str, str], Vector] = {}

    def similarities(self, question: str, fact_ids: Sequence[str], lang: str) -> list[float]:
        """Cosine similarity of ``question`` to each fact, in the fact's text in ``lang``."""
        missing = [f for f in dict.fromkeys(fact_ids) if (f, lang) not in self._vectors]
        if missing:
            rows = self._embedder.embed([self._text_of(f, lang) for f in missing])
            for fact_id, row in zip(missing, rows, strict=True):
                self._vectors[(fact_id, lang)] = row
        [asked] = self._embedder.embed([question])
        return [float(self._vectors[(f, lang)] @ asked) for f in fact_ids]
