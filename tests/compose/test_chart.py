"""Chart series: built from content/charts.yaml, one quantity each, captioned point by point."""

from __future__ import annotations

import dataclasses
import datetime as dt

from bot.compose.chart import compose_chart_reply, has_chart, topic_series
from bot.core.domain import Library, Status
from bot.i18n.translator import translator
from tests.support.series import with_stake_percent

INVESTED = "microsoft-invested-in-openai"
FIRST, LATEST = "context-microsoft-1bn-investment-2019", "stakes-microsoft-invested-over-13bn"


def test_the_investment_series_is_built_from_the_declaration_across_topics(
    library: Library,
) -> None:
    [series] = topic_series(library, "stakes")
    assert series.declared.id == INVESTED and series.unit == "USD"
    assert [p.fact_id for p in series.points] == [FIRST, LATEST]
    assert {library.facts[p.fact_id].topic for p in series.points} == {"context", "stakes"}
    assert [p.day for p in series.points] == [dt.date(2019, 7, 22), dt.date(2025, 5, 11)]
    assert [p.figure.value for p in series.points] == [1_000_000_000, 13_000_000_000]
    assert [p.qualifier for p in series.points] == [None, "more-than"]


def test_topics_without_a_declared_series_have_no_chart(library: Library) -> None:
    """The revenue share, Stargate and the IPO have fewer than two dated figures of one kind."""
    for topic in ("revenue", "infrastructure", "ipo"):
        assert topic_series(library, topic) == () and not has_chart(library, topic), topic
    assert has_chart(library, "stakes")


def test_a_denied_or_removed_fact_leaves_the_series_below_two_points(library: Library) -> None:
    denied = dataclasses.replace(library.facts[LATEST], status=Status.DENIED)
    assert not has_chart(
        dataclasses.replace(library, facts={**library.facts, LATEST: denied}), "stakes"
    )
    removed = {k: v for k, v in library.facts.items() if k != FIRST}
    assert not has_chart(dataclasses.replace(library, facts=removed), "stakes")


def test_two_series_on_a_topic_are_two_panels_with_their_own_units(library: Library) -> None:
    both = with_stake_percent(library)
    chart = compose_chart_reply(both, "stakes", translator("en")).chart
    assert chart is not None
    money, percent = chart.panels
    assert money.title == "Total Microsoft has invested in OpenAI"
    assert money.y_label == "Amount (USD)" and "$10B" in [t for _, t in money.y_ticks]
    assert percent.title == "Microsoft's share" and percent.y_label == "Percentage"
    assert [p.value_label for p in percent.points] == ["49%", "about 27%"]
    assert [t for _, t in percent.y_ticks] == ["0", "20%", "40%", "60%"]


def test_caption_dates_and_sources_every_point_in_french(library: Library) -> None:
    reply = compose_chart_reply(library, "stakes", translator("fr"))
    texts = [b.text for b in reply.blocks]
    assert texts[0] == "Participations : les chiffres au fil du temps"
    assert texts[1] == "Montant total investi par Microsoft dans OpenAI"
    bullets = [b for b in reply.blocks if b.kind == "bullet"]
    assert [b.text for b in bullets] == [
        "22 juillet 2019 : 1 milliard de dollars",
        "11 mai 2025 : plus de 13 milliards de dollars",
    ]
    sources = {b.number: b.text for b in reply.blocks if b.kind == "source"}
    [first_cited] = bullets[0].citations
    assert sources[first_cited].startswith("Microsoft (Microsoft News Center)")
    assert any(sources[n].startswith("Financial Times") for n in bullets[1].citations)


def test_caption_in_english_and_the_revision_follows_the_figures(library: Library) -> None:
    reply = compose_chart_reply(library, "stakes", translator("en"))
    bullets = [b.text for b in reply.blocks if b.kind == "bullet"]
    assert bullets == ["July 22, 2019: $1 billion", "May 11, 2025: more than $13 billion"]
    fact = library.facts[LATEST]
    [figure] = fact.figures
    edited = dataclasses.replace(fact, figures=(dataclasses.replace(figure, value=14e9),))
    changed = dataclasses.replace(library, facts={**library.facts, LATEST: edited})
    before, after = reply.chart, compose_chart_reply(changed, "stakes", translator("en")).chart
    assert before is not None and after is not None and before.revision != after.revision
    french = compose_chart_reply(library, "stakes", translator("fr")).chart
    assert french is not None and french.revision == before.revision
