"""The everyday-word lists load from the installed package, offline, in both languages."""

from __future__ import annotations

from bot.qa.retrieval.dictionary import everyday_words


def test_everyday_words_of_both_languages_are_known_folded() -> None:
    words = everyday_words()
    assert {"mostly", "haggling", "monte", "parie", "boursiere"} <= words
    assert not {"shaare", "mistraal", "titok", "anthroplc"} & words
