"""content/asked.yaml: reader questions for every shipped fact in both languages, and each
kind of planted error reported as file:line: message (bot/content/asked.py, run by ``content
check``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content.asked import ASKED_FILE, check_asked, load_asked
from bot.content.loader import ContentInvalid
from bot.core.domain import Library
from tests.conftest import CONTENT
from tests.test_cli import run


def test_every_shipped_fact_has_reader_questions_in_both_languages(library: Library) -> None:
    asked = load_asked(CONTENT, library.facts)
    assert set(asked) == set(library.facts)
    for questions in asked.values():
        assert questions.en and questions.fr


def test_no_file_means_no_questions(tmp_path: Path) -> None:
    assert load_asked(tmp_path) == {}
    assert check_asked(tmp_path, {"any-fact"}) == []


def _planted(tmp_path: Path, text: str) -> Path:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / ASKED_FILE).write_text(text, encoding="utf-8")
    return content


def test_each_planted_error_is_reported_with_its_line(library: Library, tmp_path: Path) -> None:
    fact = next(iter(library.facts))
    content = _planted(
        tmp_path,
        "asked:\n"
        "  no-such-fact:\n    en: [a]\n    fr: [b]\n"
        f'  {fact}:\n    en: ["how much", "How much?"]\n    fr: []\n',
    )
    errors = check_asked(content, library.facts)
    messages = {(e.line, e.message) for e in errors}
    assert (3, "unknown fact 'no-such-fact' (not in facts.yaml)") in messages
    assert (6, f"{fact}: duplicate 'en' question 'How much?'") in messages
    assert (6, f"{fact}: 'fr' must be a non-empty list of questions") in messages
    assert all(e.path == content / ASKED_FILE for e in errors)
    with pytest.raises(ContentInvalid):
        load_asked(content, library.facts)


def test_a_fact_needs_both_languages(library: Library, tmp_path: Path) -> None:
    fact = next(iter(library.facts))
    content = _planted(tmp_path, f"asked:\n  {fact}:\n    en: [a question]\n")
    [error] = check_asked(content, library.facts)
    assert "give exactly 'en' and 'fr'" in error.message


def test_content_check_fails_on_a_reader_question_for_an_unknown_fact(tmp_path: Path) -> None:
    content = _planted(tmp_path, "asked:\n  no-such-fact:\n    en: [a]\n    fr: [b]\n")
    result = run("content", "check", env={"BOT_CONTENT_DIR": str(content)})
    assert result.returncode == 5
    assert f"{content / ASKED_FILE}:3: unknown fact 'no-such-fact'" in result.stderr
    assert "Traceback" not in result.stderr
