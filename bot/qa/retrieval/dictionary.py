"""Everyday words of English and French, from pyspellchecker's word-frequency lists (they ship
inside the package; nothing is downloaded): a word in them is no typo of a name, however close
("monte" is no "meta", "parie" no "paris")."""

from __future__ import annotations

from functools import cache

from bot.core.text import fold

# Below this count a list's entries are mostly names, misspellings and rare forms.
MIN_COUNT = 20


@cache
def everyday_words() -> frozenset[str]:
    """The folded words of both lists seen at least ``MIN_COUNT`` times; loaded once per
    process (about 1.5 s, both languages)."""
    from spellchecker import SpellChecker

    found: set[str] = set()
    for lang in ("en", "fr"):
        frequencies = SpellChecker(language=lang, distance=1).word_frequency.dictionary
        found.update(fold(word) for word, count in frequencies.items() if count >= MIN_COUNT)
    return frozenset(found)
