"""Which messages ask for the last answer again in another language, and which do not."""

from __future__ import annotations

import pytest

from bot.qa.engine import language_switch


@pytest.mark.parametrize(
    ("message", "lang"),
    [
        ("and in French?", "fr"),
        ("en français stp", "fr"),
        ("en anglais", "en"),
        ("in english please", "en"),
        ("en ?", "en"),
        ("fr", "fr"),
        # "en" inside a French sentence is the preposition, not English.
        ("et en dollars ?", None),
        ("et en bourse ?", None),
        ("english or french", None),
        ("what does the french article say about the ipo", None),
        # A longer request that only asks for the same again.
        ("can you say that in english pls", "en"),
        ("tu peux me redire ça en français stp", "fr"),
        ("can you say what the french article says about the ipo", None),
    ],
)
def test_language_switch(message: str, lang: str | None) -> None:
    assert language_switch(message) == lang
