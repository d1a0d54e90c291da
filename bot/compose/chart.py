"""Charts of the figures that have a history: the series a topic's facts give, and the chart's
every label in the reader's language. Pure: drawing is bot/app/charts.py's.

A topic's series is the figures of one kind (money of one currency, or percent) that its facts
carry, each dated by its ``as_of``, else by the date the fact itself states, else by its
source's publication date; denied facts are left out. The kind with the most dated points is
charted, provided it has at least two.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass

from bot.compose.briefing import Citations, source_blocks
from bot.core.domain import (
    Block,
    Chart,
    ChartPoint,
    Fact,
    Figure,
    Library,
    Reply,
    Status,
)
from bot.i18n.translator import Translator

MIN_POINTS = 2
_TICKS = 4  # about this many steps on the value axis


@dataclass(frozen=True)
class SeriesPoint:
    day: dt.date
    figure: Figure
    fact_id: str


@dataclass(frozen=True)
class Series:
    topic: str
    kind: str  # "money" or "percent"
    currency: str | None
    points: tuple[SeriesPoint, ...]

    @property
    def revision(self) -> str:
        """A digest of what the chart shows: a changed fact gives a new image."""
        parts = [self.topic, self.kind, self.currency or ""]
        for point in self.points:
            parts += [point.fact_id, point.figure.name, str(point.figure.value), str(point.day)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _dated(fact: Fact, figure: Figure, library: Library) -> dt.date | None:
    if figure.as_of is not None:
        return figure.as_of
    for other in fact.figures:
        if other.kind == "date":
            return dt.date.fromisoformat(str(other.value))
    source = library.sources.get(fact.source_id)
    return source.published if source is not None else None


def topic_series(library: Library, topic: str) -> Series | None:
    """The figure series of ``topic``, or None when it has fewer than two dated points."""
    groups: dict[tuple[str, str | None], list[SeriesPoint]] = {}
    for fact in library.facts.values():
        if fact.topic != topic or fact.status is Status.DENIED:
            continue
        for figure in fact.figures:
            if figure.kind not in ("money", "percent"):
                continue
            if figure.kind == "money" and not figure.currency:
                continue
            day = _dated(fact, figure, library)
            if day is None:
                continue
            key = (figure.kind, figure.currency if figure.kind == "money" else None)
            groups.setdefault(key, []).append(SeriesPoint(day, figure, fact.id))
    if not groups:
        return None
    # The kind with the most points; money first on a tie (its history is the longer story).
    (kind, currency), points = max(
        groups.items(), key=lambda item: (len(item[1]), item[0][0] == "money")
    )
    if len(points) < MIN_POINTS:
        return None
    ordered = sorted(points, key=lambda p: p.day)  # stable: same-day figures as written
    return Series(topic, kind, currency, tuple(ordered))


def has_chart(library: Library, topic: str) -> bool:
    return topic_series(library, topic) is not None


def _step(top: float) -> float:
    raw = top / _TICKS
    magnitude = float(10 ** math.floor(math.log10(raw)))
    return next(float(m * magnitude) for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def tick_label(series: Series, value: float, tr: Translator) -> str:
    """An axis label, short enough for a phone: "150 Md $US", "$150B", "20 %"."""
    if value == 0:
        return tr.number(0)
    if series.kind == "percent":
        return tr.percent(value)
    assert series.currency is not None
    return tr.money_short(value, series.currency)


def y_ticks(series: Series, tr: Translator) -> tuple[tuple[float, str], ...]:
    top = max(float(p.figure.value) for p in series.points)
    if top <= 0:
        return ((0.0, tr.number(0)),)
    step = _step(top)
    count = math.ceil(top / step + 1e-9)
    # Rounded so that 0.1 * 3 is 0.3: the label must name the tick's value.
    values = [round(i * step, 12) for i in range(count + 1)]
    return tuple((v, tick_label(series, v, tr)) for v in values)


def compose_chart(library: Library, series: Series, tr: Translator) -> Chart:
    topic = next(t for t in library.topics if t.id == series.topic)
    label = topic.label.get(tr.lang)
    if series.kind == "percent":
        title = tr.gettext("{topic}: percentages over time").format(topic=label)
        y_label = tr.gettext("Percentage")
    else:
        title = tr.gettext("{topic}: amounts over time").format(topic=label)
        y_label = tr.gettext("Amount ({currency})").format(currency=series.currency)
    points = tuple(
        ChartPoint(
            label=tr.month(p.day.year, p.day.month),
            value=float(p.figure.value),
            value_label=tr.figure(p.figure),
        )
        for p in series.points
    )
    return Chart(
        topic=series.topic,
        lang=tr.lang,
        locale=tr.locale,
        revision=series.revision,
        title=title,
        x_label=tr.gettext("Date of the figure"),
        y_label=y_label,
        points=points,
        y_ticks=y_ticks(series, tr),
    )


def chart_caption(library: Library, series: Series, chart: Chart, tr: Translator) -> list[Block]:
    """The photo's caption: the title, what each bar is, and the sources."""
    citations = Citations(library)
    for fact_id in dict.fromkeys(p.fact_id for p in series.points):
        citations.cite(library.facts[fact_id])
    newest = max(library.facts[p.fact_id].updated for p in series.points)
    blocks = [Block("title", chart.title)]
    blocks.append(Block("note", tr.gettext("Facts as of {date}.").format(date=tr.date(newest))))
    return blocks + source_blocks(citations, tr)


def compose_chart_reply(library: Library, topic: str, tr: Translator) -> Reply:
    """The chart of ``topic`` with its caption, or a line saying it has no series."""
    series = topic_series(library, topic)
    if series is None:
        label = next((t.label.get(tr.lang) for t in library.topics if t.id == topic), topic)
        text = tr.gettext("There are not enough dated figures to chart {topic} yet.").format(
            topic=label
        )
        return Reply(tr.lang, (Block("text", text),))
    chart = compose_chart(library, series, tr)
    return Reply(tr.lang, tuple(chart_caption(library, series, chart, tr)), chart=chart)
