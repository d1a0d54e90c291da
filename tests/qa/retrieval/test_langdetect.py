"""Telling French from English by function words, only when they point one way."""

from __future__ import annotations

import pytest

from bot.core.domain import Lang
from bot.qa.retrieval.langdetect import detect_lang


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # No function word of either language: the user's own language holds.
        ("chiffre d'affaires d'openai l'an dernier", None),
        ("le chiffre d'affaires d'openai l'an dernier", "fr"),
        ("combien microsoft a investi dans openai", "fr"),
        ("how much did microsoft invest in openai", "en"),
        ("is this an ipo", "en"),
        ("openai", None),
    ],
)
def test_the_function_words_tell_the_language(text: str, lang: Lang | None) -> None:
    """ "l'an dernier" is French: "an" counts for neither language (it was English)."""
    assert detect_lang(text) == lang
