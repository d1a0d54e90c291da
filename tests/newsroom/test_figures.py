"""An editor's typed figure reads as content/ stores it, or is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.domain import Figure
from bot.newsroom.figures import FigureUnreadable, parse_figure


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("money 15 billion USD", Figure("x", "money", 15_000_000_000, "USD")),
        ("money $2.5 bn", Figure("x", "money", 2_500_000_000, "USD")),
        ("money 13,5 milliards EUR", Figure("x", "money", 13_500_000_000, "EUR")),
        (
            "money 10000000000 usd 2026-01-05",
            Figure("x", "money", 10_000_000_000, "USD", dt.date(2026, 1, 5)),
        ),
        ("percent 27", Figure("x", "percent", 0.27)),
        ("percent 0.27", Figure("x", "percent", 0.27)),
        ("year 2030", Figure("x", "year", 2030)),
        ("date 2026-01-05", Figure("x", "date", "2026-01-05")),
        ("month 2026-01", Figure("x", "month", "2026-01")),
        ("count 4", Figure("x", "count", 4)),
    ],
)
def test_each_kind_reads_as_content_stores_it(text: str, figure: Figure) -> None:
    assert parse_figure("x", text) == figure


@pytest.mark.parametrize(
    "text",
    ["", "money lots", "money 15 billion", "weight 4", "year 2030.5", "date 2026-13-01", "count"],
)
def test_what_is_not_a_figure_is_refused(text: str) -> None:
    with pytest.raises(FigureUnreadable):
        parse_figure("x", text)
