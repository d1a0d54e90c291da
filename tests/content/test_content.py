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
        ("facts.yaml", "paid_to: OpenAI", "paid_to: Nvidia", "'Nvidia' is not in 'entities'"),
        (
            "facts.yaml",
            "kind: year\n",
            "kind: year\n        paid_by: Microsoft\n",
            "only an amount can be paid_by",
        ),
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


_FIRST_POINT = "      - fact: context-microsoft-1bn-investment-2019\n        figure: amount\n"


@pytest.mark.parametrize(
    ("old", "new", "message", "at"),
    [
        (
            "fact: context-microsoft-1bn-investment-2019",
            "fact: no-such-fact",
            "unknown fact 'no-such-fact'",
            "fact: no-such-fact",
        ),
        ("figure: amount", "figure: year", "has no figure 'year' in USD", "figure: year"),
        ("unit: USD", "unit: EUR", "has no figure 'amount' in EUR", "figure: amount"),
        ("unit: USD", "unit: dollars", "unit must be 'percent' or an ISO 4217", "unit: dollars"),
        ("topics: [stakes]", "topics: [gossip]", "unknown topic 'gossip'", "topics: [gossip]"),
        ("qualifier: more-than", "qualifier: roughly", "'qualifier' must be one of", "roughly"),
        (
            _FIRST_POINT,
            "      - fact: infrastructure-stargate-announced\n",
            "has several figures in USD: name one with 'figure'",
            "infrastructure-stargate-announced",
        ),
    ],
)
def test_chart_declarations_are_checked_with_file_and_line(
    tmp_path: Path, old: str, new: str, message: str, at: str
) -> None:
    content = _planted(tmp_path, "charts.yaml", old, new)
    with pytest.raises(ContentInvalid) as caught:
        load_library(content)
    [error] = [e for e in caught.value.errors if message in e.message]
    assert error.path == content / "charts.yaml"
    assert 0 <= _line_of(content / "charts.yaml", at) - error.line <= 2, str(error)


def test_chart_points_must_rise_in_date_and_be_at_least_two(tmp_path: Path) -> None:
    path = CONTENT / "charts.yaml"
    text = path.read_text(encoding="utf-8")
    assert _FIRST_POINT in text
    swapped = tmp_path / "swapped"
    shutil.copytree(CONTENT, swapped)
    (swapped / "charts.yaml").write_text(
        text.replace(_FIRST_POINT, "") + _FIRST_POINT, encoding="utf-8"
    )
    with pytest.raises(ContentInvalid) as caught:
        load_library(swapped)
    [error] = caught.value.errors
    assert "dated 2019-07-22, not after the previous point (2025-05-11)" in error.message
    assert error.line == _line_of(swapped / "charts.yaml", "context-microsoft-1bn")
    single = tmp_path / "single"
    shutil.copytree(CONTENT, single)
    (single / "charts.yaml").write_text(text.replace(_FIRST_POINT, ""), encoding="utf-8")
    with pytest.raises(ContentInvalid) as caught:
        load_library(single)
    assert [e.message for e in caught.value.errors] == ["a series has at least 2 points, not 1"]


def test_a_denied_fact_cannot_be_a_chart_point(tmp_path: Path) -> None:
    facts = CONTENT / "facts.yaml"
    target = "  - id: stakes-microsoft-invested-over-13bn\n    topic: stakes\n    status: reported"
    assert target in facts.read_text(encoding="utf-8")
    content = _planted(tmp_path, "facts.yaml", target, target.replace("reported", "denied"))
    with pytest.raises(ContentInvalid) as caught:
        load_library(content)
    [error] = caught.value.errors
    assert error.path == content / "charts.yaml" and "is denied" in error.message
