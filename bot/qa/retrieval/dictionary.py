"""Everyday words of English and French, from pyspellchecker's word-frequency lists (they ship
inside the package; nothing is downloaded): a word in them is no typo of a name, however close
("monte" is no "meta", "parie" no "paris")."""

from __future__ import annotations

from functools import cache

from bot.core.text import fold


@cache
def everyday_words() -> frozenset[str]:
    """The folded words of both lists (about 284,000; the lists count each word, and hold
    none counted under 50); loaded once per process, about 1.3 s for both languages."""
    from spellchecker import SpellChecker

    found: set[str] = set()
    for lang in ("en", "fr"):
        listed = SpellChecker(language=lang, distance=1).word_frequency.words()
        # Most entries are plain lower-case ASCII, already folded: fold() on every one of
        # the 300,000 took 1.2 s, this 0.45 s.
        found.update(w if w.isascii() and w.isalnum() and w.islower() else fold(w) for w in listed)
    return frozenset(found)
