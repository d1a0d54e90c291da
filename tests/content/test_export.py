"""Approved facts export as content/ YAML that content check's own fact checks accept."""

from __future__ import annotations

import datetime as dt

import yaml

from bot.content.export import check_approved, export_yaml
from bot.core.domain import Bilingual, Fact, Figure, Library, Source, Status
from bot.core.editorial import Approved

AT = dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC)


def _approved(text_en: str, fact_id: str = "ipo-news-c1") -> Approved:
    source = Source(f"{fact_id}-src", "Reuters", "OpenAI files", "https://r.com/x", None, "en")
    fact = Fact(
        fact_id,
        "ipo",
        Status.REPORTED,
        source.id,
        Bilingual("Selon Reuters, OpenAI vise {year}.", text_en),
        AT.date(),
        AT.date(),
        (Figure("year", "year", 2027),),
        changed_at=AT,
    )
    return Approved(fact, (source,), "c1", 1, AT)


def test_a_valid_approval_exports_and_passes_the_checks(library: Library) -> None:
    approved = _approved("OpenAI is aiming for {year}, Reuters reports.")
    assert check_approved([approved], library) == []
    exported = yaml.safe_load(export_yaml([approved]).replace("\n\nfacts:", "\nfacts:"))
    assert exported["facts"][0]["figures"] == {"year": {"kind": "year", "value": 2027}}
    assert exported["sources"][0]["id"] == "ipo-news-c1-src"


def test_digits_unknown_placeholders_and_taken_ids_are_reported(library: Library) -> None:
    bad = _approved("OpenAI is aiming for 2027 and {when}.", fact_id=next(iter(library.facts)))
    messages = [e.message for e in check_approved([bad], library)]
    assert any("literal digits" in m for m in messages)
    assert any("undefined figure" in m for m in messages)
    assert any("duplicate id" in m for m in messages)
