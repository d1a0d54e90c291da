"""Approved facts join the served Library: new ids only, the updated fact marked, briefings
pointing at the newer fact."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from bot.core.domain import Bilingual, Fact, Library, Source, Status
from bot.core.editorial import Approved, fact_id_for, merge_library

AT = dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC)
OLD = "stakes-microsoft-invested-over-13bn"


def approved(library: Library, fact_id: str, updates: str | None = None) -> Approved:
    source = Source(f"{fact_id}-src", "FT", "t", "https://ft.com/x", AT.date(), "en")
    fact = Fact(
        fact_id, "stakes", Status.REPORTED, source.id, Bilingual("fr", "en"), AT.date(), AT.date()
    )
    return Approved(
        replace(fact, changed_at=AT),
        (source,),
        "c1",
        1,
        AT,
        updates,
        Status.SUPERSEDED if updates else None,
    )


def test_an_update_marks_the_older_fact_and_takes_its_place_in_briefings(
    library: Library,
) -> None:
    merged = merge_library(library, [approved(library, "stakes-news-c1", OLD)])
    assert merged.facts[OLD].status is Status.SUPERSEDED
    assert merged.facts[OLD].text == library.facts[OLD].text, "what readers were told stays"
    assert "stakes-news-c1" in merged.briefings["stakes"].fact_ids
    assert OLD not in merged.briefings["stakes"].fact_ids
    assert "stakes-news-c1-src" in merged.sources
    assert library.facts[OLD].status is not Status.SUPERSEDED, "the base is not changed"


def test_an_id_content_has_never_replaces_the_curated_fact(library: Library) -> None:
    merged = merge_library(library, [approved(library, OLD)])
    assert merged.facts[OLD] == library.facts[OLD]


def test_fact_ids_never_collide() -> None:
    assert fact_id_for("ipo", "A/b", set()) == "ipo-news-a-b"
    assert fact_id_for("ipo", "ab", {"ipo-news-ab", "ipo-news-ab-2"}) == "ipo-news-ab-3"


def test_the_chart_series_of_content_stay_in_the_served_library(library: Library) -> None:
    assert library.charts, "content/charts.yaml declares at least one series"
    merged = merge_library(library, [approved(library, "stakes-news-c1", OLD)])
    assert merged.charts == library.charts
