"""The conversation answers every command in the user's language, with sourced briefings."""

from __future__ import annotations

import re

import pytest

from bot.app.router import Router
from bot.app.services import build_conversation
from bot.compose.render_text import render_plain
from bot.core.actions import Action, parse_action
from bot.core.domain import Lang, Library, Reply, Who
from bot.qa.engine import MAX_TEXT_CHARS


class MemoryPrefs:
    """A Preferences fake: the real UserStore is tested on files in tests/store."""

    def __init__(self) -> None:
        self.langs: dict[int, Lang] = {}

    def get_lang(self, user_id: int) -> Lang | None:
        return self.langs.get(user_id)

    def set_lang(self, user_id: int, lang: Lang) -> None:
        self.langs[user_id] = lang


@pytest.fixture
def conversation(library: Library) -> Router:
    return build_conversation(lambda: library, MemoryPrefs(), "en").router


FR, EN = Who(1, "fr-CA"), Who(2, "en-US")


def test_start_greets_in_french_for_any_french_code(conversation: Router) -> None:
    reply = conversation.start(Who(3, "fr-BE"))
    assert reply.lang == "fr"
    assert render_plain(reply).startswith("Bonjour")
    assert len(reply.blocks) == 3
    labels = [b.label for row in reply.buttons for b in row]
    assert labels[0] == "Vue d’ensemble" and len(labels) == 5


def test_start_is_english_otherwise(conversation: Router) -> None:
    assert render_plain(conversation.start(Who(3, "de"))).startswith("Hello")


def _check_briefing(reply: Reply, library: Library) -> None:
    bullets = [b for b in reply.blocks if b.kind == "bullet"]
    assert 3 <= len(bullets) <= 6
    sources = [b for b in reply.blocks if b.kind == "source"]
    numbers = {n for b in bullets for n in b.citations}
    assert numbers == {b.number for b in sources}, "every citation has its source and back"
    for block in bullets:
        assert block.citations, block.text
        assert "{" not in block.text, "a figure placeholder was left unformatted"


def test_overview_briefing_is_cited_in_both_languages(
    conversation: Router, library: Library
) -> None:
    fr, en = conversation.brief(FR), conversation.brief(EN)
    _check_briefing(fr, library)
    _check_briefing(en, library)
    assert fr.blocks[0].text == library.briefings["overview"].headline.fr
    assert en.blocks[0].text == library.briefings["overview"].headline.en


@pytest.mark.parametrize(
    ("word", "briefing"),
    [
        ("stakes", "stakes"),
        ("participations", "stakes"),
        ("revenus", "revenue"),
        ("BOURSE", "ipo"),
        ("ipo", "ipo"),
        ("infrastructure", "infrastructure"),
    ],
)
def test_topic_aliases(conversation: Router, library: Library, word: str, briefing: str) -> None:
    reply = conversation.brief(FR, word)
    assert reply.blocks[0].text == library.briefings[briefing].headline.fr


def test_figures_are_formatted_for_the_locale(conversation: Router) -> None:
    fr = render_plain(conversation.brief(FR, "stakes"))
    en = render_plain(conversation.brief(EN, "stakes"))
    assert "milliards de dollars" in fr and "billion" not in fr
    assert re.search(r"\$\d+ billion", en)


def test_unknown_topic_lists_the_topics(conversation: Router) -> None:
    reply = conversation.brief(EN, "<b>nonsense</b>")
    text = render_plain(reply)
    assert "I don't know the topic “<b>nonsense</b>”" in text
    assert "ipo" in text and reply.buttons


def test_lang_is_stored_and_overrides_language_code(conversation: Router) -> None:
    reply = conversation.set_lang(EN, "fr")
    assert reply.lang == "fr" and "français" in render_plain(reply)
    assert conversation.brief(EN).lang == "fr"


def test_lang_with_a_wrong_value_explains_in_the_current_language(
    conversation: Router,
) -> None:
    text = render_plain(conversation.set_lang(FR, "de"))
    assert "« de »" in text and "/lang fr" in text
    assert conversation.brief(FR).lang == "fr"


def test_unknown_command_hints_help(conversation: Router) -> None:
    assert "/help" in render_plain(conversation.unknown_command(FR, "frobnicate"))


def test_long_message_gets_a_localized_length_note(conversation: Router) -> None:
    text = render_plain(conversation.text(Who(5, "fr"), "x" * 5000))
    assert "5\u202f000" in text and str(MAX_TEXT_CHARS) not in text


def test_sources_lists_publisher_title_date_and_link(
    conversation: Router, library: Library
) -> None:
    reply = conversation.sources(EN)
    sources = [b for b in reply.blocks if b.kind == "source"]
    used = {sid for fact in library.facts.values() for sid in fact.source_ids()}
    assert len(sources) == len(used)
    assert any(b.url and b.url.startswith("https://") for b in sources)
    assert any("date not stated" in b.text for b in sources)


def test_actions_are_parsed_strictly(library: Library) -> None:
    assert parse_action("v1:brief:ipo", library) == Action("brief", "ipo")
    for forged in (
        "",
        "v2:brief:ipo",
        "v1:brief:gossip",
        "v1:brief",
        "v1:drop:ipo",
        "v1:brief:ipo:x",
        "x" * 65,
    ):
        assert parse_action(forged, library) is None


def test_stale_button_gets_the_keyboard_again(conversation: Router) -> None:
    reply = conversation.action(FR, "v0:old:payload")
    assert "plus valable" in render_plain(reply) and reply.buttons


def test_every_button_payload_fits_telegram(conversation: Router) -> None:
    for reply in (conversation.start(FR), conversation.brief(EN, "ipo")):
        for row in reply.buttons:
            for button in row:
                assert 1 <= len(button.action.encode()) <= 64


def test_dispatch_routes_console_lines(conversation: Router, library: Library) -> None:
    assert conversation.dispatch(EN, "/brief@partnerbrief_bot ipo").blocks[0].text == (
        library.briefings["ipo"].headline.en
    )
    assert "/help" in render_plain(conversation.dispatch(EN, "/nope"))


def test_an_admin_button_reaching_the_conversation_is_stale(conversation: Router) -> None:
    """Broadcast confirmations are the adapter's; here they must not crash or brief."""
    assert "no longer valid" in render_plain(conversation.action(EN, "v1:bc:yes:0123abcd"))
