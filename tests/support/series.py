"""A second chart series for tests: the shipped content has one series per topic at most."""

from __future__ import annotations

import dataclasses
import datetime as dt

from bot.core.domain import Bilingual, ChartSeries, Fact, Figure, Library, SeriesPoint


def with_stake_percent(library: Library) -> Library:
    """The shipped library plus a second stakes series (a percentage) on two made-up facts."""
    base = library.facts["stakes-microsoft-27pct-of-openai-group"]

    def fact(ident: str, value: float, day: dt.date) -> Fact:
        return dataclasses.replace(
            base, id=ident, figures=(Figure("share", "percent", value, as_of=day),)
        )

    extra = {
        "test-share-a": fact("test-share-a", 0.49, dt.date(2023, 1, 23)),
        "test-share-b": fact("test-share-b", 0.27, dt.date(2025, 10, 28)),
    }
    percent = ChartSeries(
        "test-stake-percent",
        ("stakes",),
        "percent",
        Bilingual("Part de Microsoft", "Microsoft's share"),
        (SeriesPoint("test-share-a", "share"), SeriesPoint("test-share-b", "share", "about")),
    )
    return dataclasses.replace(
        library, facts={**library.facts, **extra}, charts=(*library.charts, percent)
    )
