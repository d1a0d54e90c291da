"""A whole language's documents analysed at once into term counts, for the index build.

Each document becomes the same terms a per-document analysis would give it (its lexicon
labels once each, then the stem of every word that is not a stopword), but the work is done
over one word stream for the whole corpus: each distinct word is stemmed once, and phrases are
found with array operations rather than a Python loop per token. At 100,000 facts that is the
difference between most of the build and a small part of it (docs/RETRIEVAL.md).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.core.text import PhraseMatcher, fold, words

# Ends each document in the word stream: not whitespace, and never part of a folded word.
_BREAK = "\x00"
_BATCH = 4096

# Maps distinct words to their terms, None for a word that is not indexed (a stopword).
WordTerms = Callable[[Sequence[str]], Sequence[str | None]]


@dataclass(frozen=True)
class TermCounts:
    """Documents × terms, row by row: document ``d`` holds ``term_ids[starts[d]:starts[d + 1]]``
    with ``counts`` occurrences each (a lexicon label counts once)."""

    starts: npt.NDArray[np.intp]
    term_ids: npt.NDArray[np.int32]
    counts: npt.NDArray[np.float32]
    terms: tuple[str, ...]  # term id -> term
    surface: frozenset[str]  # every word of every document, as folded

    @property
    def size(self) -> int:
        return len(self.starts) - 1

    def doc_terms(self, doc: int) -> frozenset[str]:
        ids = self.term_ids[self.starts[doc] : self.starts[doc + 1]]
        return frozenset(self.terms[i] for i in ids.tolist())

    def doc_lengths(self) -> npt.NDArray[np.float64]:
        """Terms per document, repeats included: what BM25 normalises by (in float64, as
        bm25s computes it, so that scores match its own build to the last bit)."""
        # Running totals taken at each document's boundaries: whole numbers, exact in float64.
        totals = np.concatenate(([0.0], np.cumsum(self.counts, dtype=np.float64)))
        lengths: npt.NDArray[np.float64] = totals[self.starts[1:]] - totals[self.starts[:-1]]
        return lengths


def count_terms(
    texts: Iterable[str],
    word_terms: WordTerms,
    labels: PhraseMatcher,
    *,
    not_names: PhraseMatcher | None = None,
    name_mark: str = "@",
) -> TermCounts:
    """Analyse ``texts``: ``word_terms`` stems words, ``labels`` finds lexicon phrases. A word
    inside a ``not_names`` phrase takes no one-word label that begins with ``name_mark``:
    "OpenAI's for-profit arm" names no company Arm, as questions are read (FactIndex._as_named).
    """
    ids, word_ids = _word_ids(texts)
    distinct = list(word_ids)
    is_break = ids == 0
    doc_of = np.cumsum(is_break, dtype=np.int32) - is_break
    size = int(is_break.sum())

    term_ids: dict[str, int] = {}
    word_term = np.full(len(distinct), -1, dtype=np.int32)
    for position, term in enumerate(word_terms(distinct[1:]), 1):
        if term is not None:
            word_term[position] = term_ids.setdefault(term, len(term_ids))
    token_terms = word_term[ids]
    indexed = token_terms >= 0
    rows = [doc_of[indexed]]
    columns = [token_terms[indexed]]

    is_label: list[int] = []
    # One-word phrases (most of them: every entity name) all at once, after the longer ones;
    # label ids are handed out in the phrases' order either way.
    single_words: list[int] = []
    single_labels: list[int] = []
    for label, phrase, positions in _phrase_positions(ids, word_ids, labels):
        label_id = term_ids.setdefault(label, len(term_ids))
        is_label.append(label_id)
        if positions is None:
            single_words.append(int(phrase[0]))
            single_labels.append(label_id)
        else:
            rows.append(doc_of[positions])
            columns.append(np.full(len(positions), label_id, dtype=np.int32))
    positions, found = _word_labels(ids, single_words, single_labels, len(word_ids))
    if not_names is not None:
        is_name = np.zeros(max(len(term_ids), 1), dtype=bool)
        is_name[[i for term, i in term_ids.items() if term.startswith(name_mark)]] = True
        common = _inside(ids, word_ids, not_names)
        kept = ~(common[positions] & is_name[found])
        positions, found = positions[kept], found[kept]
    rows.append(doc_of[positions])
    columns.append(found)

    # One sort of (document, term) keys gives the rows and the counts together.
    width = max(len(term_ids), 1)
    keys, counts = np.unique(
        np.concatenate(rows).astype(np.int64) * width + np.concatenate(columns),
        return_counts=True,
    )
    docs, terms = np.divmod(keys, width)
    label_mask = np.zeros(width, dtype=bool)
    label_mask[is_label] = True
    counts[label_mask[terms]] = 1
    starts = np.searchsorted(docs, np.arange(size + 1))
    return TermCounts(
        starts=starts.astype(np.intp),
        term_ids=terms.astype(np.int32),
        counts=counts.astype(np.float32),
        terms=tuple(sorted(term_ids, key=term_ids.__getitem__)),
        surface=frozenset(distinct[1:]),
    )


def _word_ids(texts: Iterable[str]) -> tuple[npt.NDArray[np.int32], dict[str, int]]:
    """Every document's ``words(fold(text))`` as one stream of word ids, each document
    followed by a break (id 0), and the ids of the words.

    Whitespace never joins or ends inside a word, so each distinct run of non-space characters
    is folded once rather than at each occurrence (folding a whole corpus costs 2 s at 100,000
    facts), and the runs are expanded into words with array operations.
    """
    # A run's id is its number in order of first occurrence, handed out by the dictionary
    # itself on a miss: one look-up per occurrence, all in C (no second pass to number the
    # new runs).
    distinct: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    batches = []
    # A few thousand texts at a time: splitting a whole corpus at once allocates (and the
    # kernel must fault in) hundreds of megabytes of short-lived strings.
    texts = iter(texts)
    while batch := list(itertools.islice(texts, _BATCH)):
        chunks = "".join(f"{text.replace(_BREAK, ' ')} {_BREAK} " for text in batch).split()
        batches.append(np.fromiter(map(distinct.__getitem__, chunks), np.int32, len(chunks)))
    occurrences = np.concatenate(batches) if batches else np.zeros(0, np.int32)
    word_ids = {_BREAK: 0}
    chunk_words = [
        [word_ids.setdefault(w, len(word_ids)) for w in _chunk_words(chunk)] for chunk in distinct
    ]
    lengths = np.fromiter(map(len, chunk_words), dtype=np.int32, count=len(chunk_words))
    flat = np.fromiter(itertools.chain.from_iterable(chunk_words), dtype=np.int32)
    # Output word k, the r-th word of occurrence j, is flat[offset of j's run + r].
    per_occurrence = lengths[occurrences]
    first_out = np.cumsum(per_occurrence, dtype=np.int32) - per_occurrence
    first_in = (np.cumsum(lengths, dtype=np.int32) - lengths)[occurrences]
    shift = np.repeat(first_in - first_out, per_occurrence)
    ids = flat[shift + np.arange(len(shift), dtype=np.int32)]
    return ids, word_ids


def _chunk_words(chunk: str) -> list[str]:
    return [_BREAK] if chunk == _BREAK else words(fold(chunk))


def _phrase_positions(
    ids: npt.NDArray[np.int32], word_ids: dict[str, int], matcher: PhraseMatcher
) -> Iterable[tuple[str, npt.NDArray[np.int32], npt.NDArray[np.intp] | None]]:
    """(label, the phrase's word ids, stream positions where it starts), phrase by phrase,
    for the phrases found; a one-word phrase's positions are None: every word in
    ``word_ids`` occurs in the stream, and ``_word_labels`` finds them all at once."""
    phrases = [
        (label, np.array([word_ids[w] for w in phrase], dtype=np.int32))
        for phrase, label in matcher.phrases()
        if all(w in word_ids for w in phrase)
    ]
    longer = [phrase for _, phrase in phrases if len(phrase) > 1]
    if not longer:
        yield from ((label, phrase, None) for label, phrase in phrases)
        return
    # Positions of every phrase's first word, grouped by that word: one pass over the stream.
    opening = np.zeros(len(word_ids), dtype=bool)
    opening[[phrase[0] for phrase in longer]] = True
    candidates = np.flatnonzero(opening[ids])
    by_word = candidates[np.argsort(ids[candidates], kind="stable")]
    first_words = ids[by_word]
    for label, phrase in phrases:
        if len(phrase) == 1:
            yield label, phrase, None
            continue
        low, high = np.searchsorted(first_words, [phrase[0], phrase[0] + 1])
        positions = by_word[low:high]
        # Each step keeps positions whose next word matches, so the stream's final break
        # (never a phrase word) stops every check inside the array.
        for offset, word in enumerate(phrase[1:].tolist(), 1):
            positions = positions[ids[positions + offset] == word]
        if len(positions):
            yield label, phrase, positions


def _inside(
    ids: npt.NDArray[np.int32], word_ids: dict[str, int], phrases: PhraseMatcher
) -> npt.NDArray[np.bool_]:
    """Which stream positions fall inside one of ``phrases``."""
    inside = np.zeros(len(ids), dtype=bool)
    for _, phrase, starts in _phrase_positions(ids, word_ids, phrases):
        if starts is None:
            inside[ids == phrase[0]] = True
        else:
            for offset in range(len(phrase)):
                inside[starts + offset] = True
    return inside


def _word_labels(
    ids: npt.NDArray[np.int32], words: list[int], labels: list[int], vocabulary: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int32]]:
    """Every (stream position, label) of one-word phrases: ``words[i]`` is labelled
    ``labels[i]``, and a word may carry several labels. A loop over 16,000 entity names cost
    0.15 s a language at 100,000 facts."""
    if not words:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int32)
    by_word = np.argsort(np.array(words, dtype=np.int32), kind="stable")
    sorted_labels = np.array(labels, dtype=np.int32)[by_word]
    per_word = np.bincount(np.array(words, dtype=np.intp), minlength=vocabulary)
    first_label = np.cumsum(per_word) - per_word
    occurrences = np.flatnonzero(per_word[ids])
    repeats = per_word[ids[occurrences]]
    positions = np.repeat(occurrences, repeats)
    # The k-th copy of an occurrence takes its word's k-th label.
    within = np.arange(len(positions)) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    found = sorted_labels[np.repeat(first_label[ids[occurrences]], repeats) + within]
    return positions, found
