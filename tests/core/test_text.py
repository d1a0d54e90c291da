"""Folding makes a question and a fact compare alike whatever the reader's keyboard typed."""

from __future__ import annotations

from bot.core.text import fold, words


def test_ligatures_fold_to_their_letters() -> None:
    """ "au cœur des négociations" must read "coeur", as a reader without the key types it."""
    assert words(fold("Au cœur des négociations, Œuvre, æ")) == [
        "au",
        "coeur",
        "des",
        "negociations",
        "oeuvre",
        "ae",
    ]


def test_accents_apostrophes_and_invisible_characters_fold_away() -> None:
    assert fold("L’introduction\u200b en Bourse d'OpenAI") == "l introduction en bourse d openai"
