"""content/ validates, and each kind of planted error is reported as file:line: message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content.loader import ContentInvalid, load_library
from bot.core.domain import BRIEFING_IDS, TOPICS, Library
from tests.conftest import CONTENT


def test_shipped_content_is_complete(library: Library) -> None:
    assert set(library.briefings) == set(BRIEFING_IDS)
    assert [t.id for t in library.topics] == list(TOPICS)
    for briefing in library.briefings.values():
        assert 3 <= len(briefing.fact_ids) <= 6
    for topic in TOPICS:
        assert sum(f.topic == topic for f in library.facts.values()) >= 3, topic


def test_every_fact_has_a_dated_or_explicitly_undated_source(library: Library) -> None:
    for fact in library.facts.values():
        for source_id in fact.source_ids():
            assert source_id in library.sources
    seed = [f for f in library.facts.values() if f.source_id == "seed-article"]
    assert len(seed) >= 10, "the content starts from the seed article"


def test_the_stargate_discrepancy_is_marked(library: Library) -> None:
    """The article credits Microsoft with the datacenter JV; the public record differs."""
    jv = [
        f
        for f in library.facts.values()
        if "Oracle" in f.entities and "SoftBank" in f.entities and f.caveat is not None
    ]
    assert jv, "the joint-venture claim must carry a caveat"
    assert any("MGX" in f.caveat.en for f in jv if f.caveat)


def _planted(tmp_path: Path, name: str, old: str, new: str) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    path = target / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not found in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        ("facts.yaml", "topic: stakes", "topic: gossip", "'topic' must be one of"),
        ("facts.yaml", "source: seed-article", "source: nowhere", "unknown source 'nowhere'"),
        ("facts.yaml", "status: reported", "status: rumoured", "'status' must be one of"),
        ("facts.yaml", "text_en:", "text_english:", "missing 'text_en'"),
        (
            "briefings.yaml",
            "    facts:\n      - ",
            "    facts:\n      - no-such-fact\n      - ",
            "unknown fact 'no-such-fact'",
        ),
        ("sources.yaml", "publisher:", "publisherx:", "missing 'publisher'"),
    ],
)
def test_planted_errors_are_reported_with_file_and_line(
    tmp_path: Path, name: str, old: str, new: str, message: str
) -> None:
    content = _planted(tmp_path, name, old, new)
    with pytest.raises(ContentInvalid) as caught:
        load_library(content)
    errors = [e for e in caught.value.errors if message in e.message]
    assert errors, [str(e) for e in caught.value.errors]
    assert errors[0].path == content / name
    assert errors[0].line >= 1
    assert str(errors[0]).startswith(f"{content / name}:{errors[0].line}: ")


def test_literal_digits_and_parity_are_enforced(tmp_path: Path) -> None:
    content = _planted(tmp_path, "facts.yaml", "text_en: ", "text_en: In 2019, ")
    with pytest.raises(ContentInvalid) as caught:
        load_library(content)
    assert any("literal digits" in e.message for e in caught.value.errors)


def test_error_line_points_at_the_broken_fact(tmp_path: Path) -> None:
    content = _planted(tmp_path, "facts.yaml", "status: reported", "status: rumoured")
    with pytest.raises(ContentInvalid) as caught:
        load_library(content)
    error = next(e for e in caught.value.errors if "'status'" in e.message)
    broken_line = _line_of(content / "facts.yaml", "status: rumoured")
    # The error points at the start of the fact's mapping, a few lines above the field.
    assert 0 <= broken_line - error.line <= 25


def test_invalid_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    content = _planted(tmp_path, "topics.yaml", "aliases:", "aliases: [unclosed")
    with pytest.raises(ContentInvalid) as caught:
        load_library(content)
    assert any("invalid YAML" in e.message for e in caught.value.errors)
