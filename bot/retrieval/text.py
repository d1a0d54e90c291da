"""Text normalisation shared by indexing and questions: folding, words, stems, numbers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH

from bot.domain import Lang

_APOSTROPHES = str.maketrans({"’": " ", "'": " ", "‘": " ", "`": " ", "-": " ", "_": " "})
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


def fold(text: str) -> str:
    """Lower-case, strip accents, turn apostrophes and hyphens into spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.translate(_APOSTROPHES).split())


def words(folded: str) -> list[str]:
    return _WORD.findall(folded)


@cache
def stopwords(lang: Lang) -> frozenset[str]:
    base = STOPWORDS_FRENCH if lang == "fr" else STOPWORDS_EN
    return frozenset(fold(w) for w in base)


class Stems:
    """Snowball stemming per language, memoised: the same words recur in every question."""

    def __init__(self) -> None:
        self._stemmers = {lang: Stemmer.Stemmer(name) for lang, name in _SNOWBALL.items()}
        self._cache: dict[tuple[str, str], str] = {}

    def stem(self, word: str, lang: Lang) -> str:
        key = (lang, word)
        stem = self._cache.get(key)
        if stem is None:
            stem = self._stemmers[lang].stemWord(word)
            if len(self._cache) < 200_000:
                self._cache[key] = stem
        return stem

    def stem_all(self, tokens: Iterable[str], lang: Lang) -> list[str]:
        return [self.stem(t, lang) for t in tokens]


def find_phrases(folded: str, phrases: Sequence[str]) -> list[str]:
    """The phrases that occur in ``folded`` as whole words."""
    padded = f" {' '.join(words(folded))} "
    return [p for p in phrases if f" {p} " in padded]


def numbers(text: str) -> set[float]:
    """Numeric values mentioned in text, magnitudes applied ("13 milliards" -> 13e9)."""
    found: set[float] = set()
    for match in _NUMBER.finditer(text):
        integer = re.sub(r"[ \u00a0\u202f,.]", "", match.group(1))
        value = float(f"{integer}.{match.group(2)}" if match.group(2) else integer)
        unit = (match.group(3) or "").lower().replace(" ", "")
        if unit in _SCALE:
            value *= _SCALE[unit]
        found.add(value)
    return found
