"""bm25s's BM25, indexed from term counts computed in bulk (see corpus.py).

bm25s builds its score matrix with a Python loop over documents, about 16 µs each: 1.6 s per
language at 100,000 facts. Its documented hook for building differently is
``build_index_from_ids``; this override computes the same matrix with array operations, using
bm25s's own idf and term-frequency functions, so scoring stays the library's (a test compares
the two on every term).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import bm25s
import numpy as np
import numpy.typing as npt
from bm25s.scoring import _build_idf_array, _select_idf_scorer, _select_tfc_scorer

from bot.qa.retrieval.corpus import TermCounts


class _Corpus(NamedTuple):
    """What ``BM25.index`` takes as pre-tokenised input: ``ids`` and ``vocab``."""

    ids: TermCounts
    vocab: dict[str, int]


class CountsBM25(bm25s.BM25):  # type: ignore[misc]
    def index_counts(self, counts: TermCounts) -> None:
        vocab = {term: i for i, term in enumerate(counts.terms)}
        self.index(_Corpus(counts, vocab), show_progress=False)

    def build_index_from_ids(
        self, unique_token_ids: list[int], corpus_token_ids: Any, **_: Any
    ) -> dict[str, Any]:
        counts: TermCounts = corpus_token_ids
        if self.method in self.methods_requiring_nonoccurrence:
            raise NotImplementedError(f"method {self.method!r} needs bm25s's own build")
        self.nonoccurrence_array = None  # set by bm25s's build for BM25L and BM25+ only
        size, width = counts.size, len(unique_token_ids)
        rows = np.repeat(np.arange(size, dtype=np.int32), np.diff(counts.starts))
        doc_lengths = counts.doc_lengths()
        doc_frequencies = np.bincount(counts.term_ids, minlength=width)
        idf = _build_idf_array(
            doc_frequencies=dict(enumerate(doc_frequencies.tolist())),
            n_docs=size,
            compute_idf_fn=_select_idf_scorer(self.idf_method),
            dtype=self.dtype,
        )
        tfc = _select_tfc_scorer(self.method)(
            tf_array=counts.counts,
            l_d=doc_lengths[rows],
            l_avg=float(doc_lengths.mean()) if size else 1.0,
            k1=self.k1,
            b=self.b,
            delta=self.delta,
        )
        scores: npt.NDArray[np.float32] = (idf[counts.term_ids] * tfc).astype(self.dtype)
        # Column-major, as bm25s keeps it: one slice of documents per term, in document order.
        # (term, document) pairs are unique, so a plain sort of their keys does it, faster
        # than a stable sort of the terms alone.
        by_term = np.argsort(counts.term_ids.astype(np.int64) * max(size, 1) + rows)
        indptr = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(doc_frequencies, out=indptr[1:])
        return {
            "data": scores[by_term],
            "indices": rows[by_term].astype(self.int_dtype),
            "indptr": indptr,
            "num_docs": size,
        }
