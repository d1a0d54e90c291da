"""Tell French from English in a question, only when the words make it clear."""

from __future__ import annotations

from functools import cache

from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH

from bot.core.domain import Lang
from bot.core.text import fold, words

# Words that are function words in one language and not the other; shared spellings such as
# "a", "on" or "pour" (English "pour") are dropped so that they cannot tip the balance.
_FR_EXTRA = (
    "combien",
    "quel",
    "quelle",
    "quels",
    "quelles",
    "pourquoi",
    "comment",
    "quand",
    "est",
    "sont",
    "avec",
    "dans",
    "pour",
    "sur",
    "les",
    "des",
    "du",
    "aux",
    "et",
    "qui",
    "que",
    "quoi",
    "francais",
)
_EN_EXTRA = (
    "how",
    "much",
    "many",
    "what",
    "why",
    "when",
    "who",
    "which",
    "does",
    "did",
    "is",
    "are",
    "the",
    "and",
    "with",
    "about",
    "of",
    "english",
)


# English function words that are also French words: "l'an dernier" is French.
_SHARED = frozenset({"an"})


@cache
def _markers() -> tuple[frozenset[str], frozenset[str]]:
    # Single letters are left out: "s" is French ("s'il") and English ("OpenAI's") alike.
    fr = {fold(w) for w in (*STOPWORDS_FRENCH, *_FR_EXTRA) if len(fold(w)) > 1}
    en = {fold(w) for w in (*STOPWORDS_EN, *_EN_EXTRA) if len(fold(w)) > 1}
    return frozenset(fr - en - _SHARED), frozenset(en - fr - _SHARED)


def detect_lang(text: str) -> Lang | None:
    """ "fr" or "en" when the function words clearly point one way, else None."""
    fr_words, en_words = _markers()
    tokens = words(fold(text))
    fr = sum(t in fr_words for t in tokens) + (1 if any(c in text for c in "éèêàçùœ") else 0)
    en = sum(t in en_words for t in tokens)
    if fr >= en + 1 and fr >= 1:
        return "fr"
    if en >= fr + 1 and en >= 1:
        return "en"
    return None
