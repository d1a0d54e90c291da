"""Everyday words of English and French, from pyspellchecker's word-frequency lists (they ship
inside the package; nothing is downloaded): a word in them is no typo of a name, however close
("monte" is no "meta", "parie" no "paris")."""

from __future__ import annotations

from functools import cache

from bot.core.text import fold


@cache
def everyday_words() -> frozenset[str]:
    """The folded words of both lists (each word in them was seen at least 50 times in the
    list's corpus); loaded once per process, about 1.5 s for both languages."""
    from spellchecker import SpellChecker

    found: set[str] = set()
    for lang in ("en", "fr"):
        found.update(map(fold, SpellChecker(language=lang, distance=1).word_frequency.words()))
    return frozenset(found)
