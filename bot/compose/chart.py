"""Charts of the figures that have a history: the series content/charts.yaml declares for a
topic, and the chart's every label in the reader's language. Pure: drawing is
bot/app/charts.py's.

A series is one measured quantity in one unit (content/loader.py checks it): each point is a
fact's figure, dated by ``figure_day``. A topic is charted when at least one series attached to
it still has two points at distinct dates once facts that were removed or denied since are left
out; each such series is a panel of its own, so that no two quantities share an axis.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass

from bot.compose.briefing import Citations, source_blocks
from bot.core.domain import (
    PERCENT_UNIT,
    Block,
    Chart,
    ChartPanel,
    ChartPoint,
    ChartSeries,
    Figure,
    Library,
    Reply,
    Status,
    figure_day,
    figure_unit,
)
from bot.i18n.translator import Translator

MIN_POINTS = 2
_TICKS = 4  # about this many steps on the value axis


@dataclass(frozen=True)
class DatedPoint:
    day: dt.date
    figure: Figure
    fact_id: str
    qualifier: str | None


@dataclass(frozen=True)
class Series:
    """A declared series with its points resolved against the library."""

    declared: ChartSeries
    points: tuple[DatedPoint, ...]

    @property
    def unit(self) -> str:
        return self.declared.unit


def resolve(library: Library, declared: ChartSeries) -> Series | None:
    """The series' points that the library still holds, one per date, or None below two."""
    points: list[DatedPoint] = []
    for ref in declared.points:
        fact = library.facts.get(ref.fact_id)
        if fact is None or fact.status is Status.DENIED:
            continue
        figure = next((f for f in fact.figures if f.name == ref.figure), None)
        if figure is None or figure_unit(figure) != declared.unit:
            continue
        day = figure_day(fact, figure, library.sources)
        if day is not None and all(p.day != day for p in points):
            points.append(DatedPoint(day, figure, fact.id, ref.qualifier))
    if len(points) < MIN_POINTS:
        return None
    return Series(declared, tuple(sorted(points, key=lambda p: p.day)))


def topic_series(library: Library, topic: str) -> tuple[Series, ...]:
    """The series charted under ``topic``, in declaration order; empty when none qualifies."""
    resolved = (resolve(library, s) for s in library.charts if topic in s.topics)
    return tuple(s for s in resolved if s is not None)


def has_chart(library: Library, topic: str) -> bool:
    return bool(topic_series(library, topic))


def revision(topic: str, series: tuple[Series, ...]) -> str:
    """A digest of what the chart shows: a changed fact or declaration gives a new image."""
    parts = [topic]
    for one in series:
        parts += [one.declared.id, one.unit, one.declared.label.fr, one.declared.label.en]
        for p in one.points:
            parts += [p.fact_id, p.figure.name, str(p.figure.value), str(p.day), p.qualifier or ""]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _step(top: float) -> float:
    raw = top / _TICKS
    magnitude = float(10 ** math.floor(math.log10(raw)))
    return next(float(m * magnitude) for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def tick_label(unit: str, value: float, tr: Translator) -> str:
    """An axis label, short enough for a phone: "150 Md $US", "$150B", "20 %"."""
    if value == 0:
        return tr.number(0)
    if unit == PERCENT_UNIT:
        return tr.percent(value)
    return tr.money_short(value, unit)


def y_ticks(series: Series, tr: Translator) -> tuple[tuple[float, str], ...]:
    top = max(float(p.figure.value) for p in series.points)
    if top <= 0:
        return ((0.0, tr.number(0)),)
    step = _step(top)
    count = math.ceil(top / step + 1e-9)
    # Rounded so that 0.1 * 3 is 0.3: the label must name the tick's value.
    values = [round(i * step, 12) for i in range(count + 1)]
    return tuple((v, tick_label(series.unit, v, tr)) for v in values)


def value_label(point: DatedPoint, tr: Translator) -> str:
    """The figure as its fact words it: "more than $13 billion", "about 27%"."""
    shown = tr.figure(point.figure)
    if point.qualifier == "more-than":
        return tr.gettext("more than {value}").format(value=shown)
    if point.qualifier == "about":
        return tr.gettext("about {value}").format(value=shown)
    return shown


def _panel(series: Series, tr: Translator) -> ChartPanel:
    if series.unit == PERCENT_UNIT:
        y_label = tr.gettext("Percentage")
    else:
        y_label = tr.gettext("Amount ({currency})").format(currency=series.unit)
    points = tuple(
        ChartPoint(
            day=p.day,
            label=tr.month(p.day.year, p.day.month),
            value=float(p.figure.value),
            value_label=value_label(p, tr),
        )
        for p in series.points
    )
    return ChartPanel(series.declared.label.get(tr.lang), y_label, points, y_ticks(series, tr))


def _topic_label(library: Library, topic: str, tr: Translator) -> str:
    return next((t.label.get(tr.lang) for t in library.topics if t.id == topic), topic)


def compose_chart(
    library: Library, topic: str, series: tuple[Series, ...], tr: Translator
) -> Chart:
    title = tr.gettext("{topic}: the figures over time").format(
        topic=_topic_label(library, topic, tr)
    )
    return Chart(
        topic=topic,
        lang=tr.lang,
        locale=tr.locale,
        revision=revision(topic, series),
        title=title,
        x_label=tr.gettext("Date of the figure"),
        panels=tuple(_panel(s, tr) for s in series),
    )


def chart_caption(
    library: Library, series: tuple[Series, ...], chart: Chart, tr: Translator
) -> list[Block]:
    """The photo's caption: the title, each series' points with their date and sources."""
    citations = Citations(library)
    blocks = [Block("title", chart.title)]
    for one, panel in zip(series, chart.panels, strict=True):
        blocks.append(Block("text", panel.title))
        for point in one.points:
            line = tr.gettext("{date}: {value}").format(
                date=tr.date(point.day), value=value_label(point, tr)
            )
            cited = citations.cite(library.facts[point.fact_id])
            blocks.append(Block("bullet", line, citations=cited))
    newest = max(library.facts[p.fact_id].updated for s in series for p in s.points)
    blocks.append(Block("note", tr.gettext("Facts as of {date}.").format(date=tr.date(newest))))
    return blocks + source_blocks(citations, tr)


def compose_chart_reply(library: Library, topic: str, tr: Translator) -> Reply:
    """The chart of ``topic`` with its caption, or a line saying it has no series."""
    series = topic_series(library, topic)
    if not series:
        text = tr.gettext("There are not enough dated figures to chart {topic} yet.").format(
            topic=_topic_label(library, topic, tr)
        )
        return Reply(tr.lang, (Block("text", text),))
    chart = compose_chart(library, topic, series, tr)
    return Reply(tr.lang, tuple(chart_caption(library, series, chart, tr)), chart=chart)
