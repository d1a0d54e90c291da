"""Text normalisation shared by indexing and questions: folding, words, stems, numbers."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from functools import cache, lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH

from bot.core.domain import Lang

_APOSTROPHES = str.maketrans({"’": " ", "'": " ", "‘": " ", "`": " ", "-": " ", "_": " "})
# Ligatures Unicode does not decompose: without them "cœur" would read as "c ur".
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})
_WORD = re.compile(r"[a-z0-9]+")
_SNOWBALL = {"fr": "french", "en": "english"}
# A number with optional decimals and a magnitude word: "13 milliards", "$13.5bn", "27 %".
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:[ \u00a0\u202f,.]\d{3})+|\d+)(?:[.,](\d+))?\s*"
    r"(milliards?|billions?|bn|md|mds|millions?|mn|m|k|%|pour ?cent|percent|per cent)?(?!\w)",
    re.IGNORECASE,
)
_SCALE = {
    "milliard": 1e9,
    "milliards": 1e9,
    "billion": 1e9,
    "billions": 1e9,
    "bn": 1e9,
    "md": 1e9,
    "mds": 1e9,
    "million": 1e6,
    "millions": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "k": 1e3,
}


_COMBINING = re.compile(r"[\u0300-\u036f]")
# Invisible format characters (zero-width space and joiners, word joiner, BOM, soft hyphen):
# inside a word they would split it in two.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def visible(text: str) -> str:
    """``text`` without invisible format characters."""
    return _INVISIBLE.sub("", text)


def fold(text: str) -> str:
    """Lower-case, strip accents and invisible characters, apostrophes and hyphens to spaces."""
    lowered = visible(text).casefold()
    if not lowered.isascii():
        lowered = _COMBINING.sub("", unicodedata.normalize("NFKD", lowered)).translate(_LIGATURES)
    return " ".join(lowered.translate(_APOSTROPHES).split())


@lru_cache(maxsize=1 << 16)
def fold_name(name: str) -> str:
    """fold() for short strings that recur, such as entity names across many facts."""
    return fold(name)


def words(folded: str) -> list[str]:
    return _WORD.findall(folded)


@cache
def stopwords(lang: Lang) -> frozenset[str]:
    base = STOPWORDS_FRENCH if lang == "fr" else STOPWORDS_EN
    return frozenset(fold(w) for w in base)


class Stems:
    """Snowball stemming per language, memoised: the same words recur in every fact."""

    def __init__(self, keep: frozenset[str] = frozenset()) -> None:
        self._stemmers = {lang: Stemmer.Stemmer(name) for lang, name in _SNOWBALL.items()}
        # Words in ``keep`` stay as written (names: Snowball turns "OpenAI" into "open").
        self._memo: dict[str, dict[str, str]] = {
            lang: {word: word for word in keep} for lang in _SNOWBALL
        }

    def stem(self, word: str, lang: Lang) -> str:
        memo = self._memo[lang]
        stem = memo.get(word)
        if stem is None:
            stem = memo[word] = self._stemmers[lang].stemWord(word)
        return stem

    def stem_all(self, tokens: Iterable[str], lang: Lang) -> list[str]:
        memo = self._memo[lang]
        missing = [t for t in set(tokens) if t not in memo]
        if missing:
            memo.update(zip(missing, self._stemmers[lang].stemWords(missing), strict=True))
        return [memo[t] for t in tokens]


def _occurs(phrase: tuple[str, ...], tokens: list[str]) -> bool:
    start = 0
    first, size = phrase[0], len(phrase)
    while True:
        try:
            start = tokens.index(first, start)
        except ValueError:
            return False
        if tuple(tokens[start : start + size]) == phrase:
            return True
        start += 1


class PhraseMatcher:
    """Finds labelled whole-word phrases in a token list in one pass, however many phrases.

    Phrases are indexed by their first word, so the cost grows with the text, not with the
    lexicon (the index build matches every fact against thousands of entity names).
    """

    def __init__(self, phrases: Iterable[tuple[str, str]]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for phrase, label in phrases:
            tokens = tuple(words(fold(phrase)))
            if tokens:
                self._by_first.setdefault(tokens[0], []).append((tokens, label))
        self._openings = frozenset(self._by_first)

    def phrases(self) -> Iterator[tuple[tuple[str, ...], str]]:
        """Every (folded words, label) pair, for matching over a whole corpus at once."""
        for entries in self._by_first.values():
            yield from entries

    def find(self, tokens: Sequence[str]) -> list[tuple[tuple[str, ...], str]]:
        # Set intersection in C first (it walks the tokens, not the thousands of phrases):
        # most texts contain none or few phrase openings.
        openings = self._openings.intersection(tokens)
        if not openings:
            return []
        found = []
        tokens = list(tokens)
        bigrams: set[tuple[str, str]] | None = None
        # In the text's order, not the set's: a set's order follows string hashing, which
        # changes with every process, and so would the order of labels and of the float sums
        # over them (a coverage sitting on a threshold could flip from one run to the next).
        for token in (t for t in dict.fromkeys(tokens) if t in openings):
            for phrase, label in self._by_first[token]:
                if len(phrase) > 1:
                    # Most multi-word candidates fail on their second word: check pairs first.
                    if bigrams is None:
                        bigrams = set(itertools.pairwise(tokens))
                    if (phrase[0], phrase[1]) not in bigrams:
                        continue
                    if len(phrase) > 2 and not _occurs(phrase, tokens):
                        continue
                found.append((phrase, label))
        return found

    def labels(self, tokens: Sequence[str]) -> list[str]:
        return list(dict.fromkeys(label for _, label in self.find(tokens)))

    def matches(self, tokens: Sequence[str]) -> bool:
        return bool(self.find(tokens))


# Shares said in words, as percentages: "owns half of OpenAI" quotes 50 %, which a fact's 27 %
# can then correct.
_SHARE_WORDS = {"half": 50.0, "moitie": 50.0, "majority": 50.0, "majorite": 50.0}


def numbers(text: str) -> set[float]:
    """Numeric values mentioned in text, magnitudes applied ("13 milliards" -> 13e9); shares
    said in words count as percentages ("half" -> 50)."""
    found: set[float] = {_SHARE_WORDS[w] for w in words(fold(text)) if w in _SHARE_WORDS}
    for match in _NUMBER.finditer(text):
        integer = re.sub(r"[ \u00a0\u202f,.]", "", match.group(1))
        value = float(f"{integer}.{match.group(2)}" if match.group(2) else integer)
        unit = (match.group(3) or "").lower().replace(" ", "")
        if unit in _SCALE:
            value *= _SCALE[unit]
        found.add(value)
    return found
