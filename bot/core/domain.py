"""Frozen domain values shared by every layer: facts, sources, briefings and replies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Literal

Lang = Literal["fr", "en"]
TOPICS = ("stakes", "revenue", "infrastructure", "ipo")
FACT_TOPICS = (*TOPICS, "context")
BRIEFING_IDS = ("overview", *TOPICS)
STATUSES = ("reported", "announced", "confirmed", "denied", "superseded")
FIGURE_KINDS = ("money", "percent", "year", "date", "month", "count")
PERCENT_UNIT = "percent"  # a chart series' unit: this, or an ISO 4217 currency
QUALIFIERS = ("about", "more-than")  # how a chart point's figure is worded by its fact


class Status(StrEnum):
    REPORTED = "reported"
    ANNOUNCED = "announced"
    CONFIRMED = "confirmed"
    DENIED = "denied"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Bilingual:
    """A curated text written in both supported languages."""

    fr: str
    en: str

    def get(self, lang: Lang) -> str:
        return self.fr if lang == "fr" else self.en


@dataclass(frozen=True)
class Source:
    id: str
    publisher: str
    title: str
    url: str | None
    published: dt.date | None
    language: str


@dataclass(frozen=True)
class Figure:
    """A number carried by a fact, formatted per locale at render time.

    ``value`` holds the amount for money, the fraction for percent, the year, the count,
    or the ISO date (``YYYY-MM-DD``, or ``YYYY-MM`` for a month).
    """

    name: str
    kind: str
    value: float | int | str
    currency: str | None = None
    as_of: dt.date | None = None
    # For an amount one of the fact's companies paid or invested in another: who paid whom.
    # "How much did Oracle invest in Microsoft?" is then not answered by an amount no one paid.
    paid_by: str | None = None
    paid_to: str | None = None


@dataclass(frozen=True)
class Fact:
    id: str
    topic: str
    status: Status
    source_id: str
    text: Bilingual
    first_seen: dt.date
    updated: dt.date
    figures: tuple[Figure, ...] = ()
    attribution_id: str | None = None
    also: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    caveat: Bilingual | None = None
    revision: int = 1
    # When the fact store last took in a new or changed version (digests announce by it), and
    # the figures that version replaced, for "revised from X to Y".
    changed_at: dt.datetime | None = None
    previous_figures: tuple[Figure, ...] = ()

    @property
    def news_at(self) -> dt.datetime:
        """When this version of the fact became news (digests announce facts by it)."""
        return self.changed_at or dt.datetime.combine(self.updated, dt.time(), dt.UTC)

    def changed_since(self, since: dt.datetime) -> bool:
        return self.news_at > since

    def source_ids(self) -> tuple[str, ...]:
        """Every source this fact rests on, the one we read first."""
        ids = [self.source_id]
        for extra in (self.attribution_id, *self.also):
            if extra and extra not in ids:
                ids.append(extra)
        return tuple(ids)


@dataclass(frozen=True)
class Topic:
    id: str
    label: Bilingual
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Briefing:
    id: str
    headline: Bilingual
    fact_ids: tuple[str, ...]
    why: Bilingual


def figure_day(fact: Fact, figure: Figure, sources: Mapping[str, Source]) -> dt.date | None:
    """The date a figure is true at: its ``as_of``, else the date its fact states, else the
    publication date of the fact's source; None when none of them is known."""
    if figure.as_of is not None:
        return figure.as_of
    for other in fact.figures:
        if other.kind == "date":
            return dt.date.fromisoformat(str(other.value))
    source = sources.get(fact.source_id)
    return source.published if source is not None else None


def figure_unit(figure: Figure) -> str | None:
    """The unit a chart series of this figure is in: its currency, or ``percent``."""
    if figure.kind == "money":
        return figure.currency
    return PERCENT_UNIT if figure.kind == "percent" else None


@dataclass(frozen=True)
class SeriesPoint:
    """One point of a declared chart series: a fact's figure, dated by ``figure_day``."""

    fact_id: str
    figure: str
    qualifier: str | None = None  # one of QUALIFIERS, as the fact words it ("more than")


@dataclass(frozen=True)
class ChartSeries:
    """One measured quantity over time (content/charts.yaml): one unit, one point per date.

    ``topics`` are the briefings whose Chart button shows it; its facts may be anywhere.
    """

    id: str
    topics: tuple[str, ...]
    unit: str  # PERCENT_UNIT or an ISO 4217 currency
    label: Bilingual  # what is measured: "Total Microsoft has invested in OpenAI"
    points: tuple[SeriesPoint, ...]


@dataclass(frozen=True)
class Library:
    """A consistent snapshot of the curated content the bot serves."""

    facts: dict[str, Fact]
    sources: dict[str, Source]
    topics: tuple[Topic, ...]
    briefings: dict[str, Briefing]
    charts: tuple[ChartSeries, ...] = ()

    def topic_for_alias(self, word: str) -> str | None:
        """The briefing id a user's word names (``overview`` included), or None."""
        key = word.strip().lower()
        if key in ("overview", "apercu", "aperçu", "resume", "résumé"):
            return "overview"
        for topic in self.topics:
            if key == topic.id or key in topic.aliases:
                return topic.id
        return None

    def newest_date(self) -> dt.date | None:
        return self._newest

    @cached_property
    def _newest(self) -> dt.date | None:
        # Once per snapshot: every refusal states it, and at 100,000 facts the pass over them
        # cost 10 ms a refusal. A library is never changed once built (a reload builds another).
        return max((fact.updated for fact in self.facts.values()), default=None)


@dataclass(frozen=True)
class Subscription:
    """One chat's daily digest: when (local time and zone), in which language, and state."""

    chat_id: int
    user_id: int
    at: dt.time
    zone: str  # IANA name, canonical spelling
    lang: Lang
    locale: str
    since: dt.datetime  # no digest is due before this instant (subscription or last change)
    last_sent_at: dt.datetime  # facts changed after this go into the next digest
    weekdays_only: bool = False
    skip_empty: bool = False  # False: a short "no new developments" note instead
    paused: bool = False
    active: bool = True  # False once Telegram says the user blocked the bot
    # The topics the digest covers; None: every topic (background facts included).
    topics: tuple[str, ...] | None = None

    def covers(self, topic: str) -> bool:
        return self.topics is None or topic in self.topics


# ---- what the core hands to renderers -------------------------------------------------------


@dataclass(frozen=True)
class Button:
    """An inline button: ``action`` is the core's own, versioned callback payload; a link
    button has a ``url`` (http or https) instead, which the client opens, and no action."""

    label: str
    action: str = ""
    url: str = ""


@dataclass(frozen=True)
class Block:
    """One unit of a reply; messages are split only between blocks.

    kinds: ``title`` (bold line), ``text`` (a paragraph), ``bullet`` (a fact with its citation
    numbers), ``note`` (a secondary, italic line), ``source`` (a numbered source line).
    """

    kind: Literal["title", "text", "bullet", "note", "source"]
    text: str
    citations: tuple[int, ...] = ()
    url: str | None = None
    number: int | None = None


@dataclass(frozen=True)
class ChartPoint:
    """One bar of a chart, placed at its date: the date as shown, the value, the value as shown."""

    day: dt.date
    label: str
    value: float
    value_label: str


@dataclass(frozen=True)
class ChartPanel:
    """One series drawn on its own axes: what it measures, its unit, its points and ticks."""

    title: str
    y_label: str
    points: tuple[ChartPoint, ...]
    y_ticks: tuple[tuple[float, str], ...]


@dataclass(frozen=True)
class Chart:
    """A chart to draw, every text already in the reader's language (bot/compose/chart.py):
    one panel per series, stacked, none sharing another's axes.

    ``revision`` is a digest of the facts it shows: with the topic and the locale it keys the
    rendered image (and Telegram's file_id for it).
    """

    topic: str
    lang: Lang
    locale: str
    revision: str
    title: str
    x_label: str
    panels: tuple[ChartPanel, ...]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.topic, self.locale, self.revision)


@dataclass(frozen=True)
class Reply:
    """What the core answers: blocks to render, optional buttons, and the language used.

    With a ``chart``, the reply is a picture and its blocks are the caption.
    """

    lang: Lang
    blocks: tuple[Block, ...]
    buttons: tuple[tuple[Button, ...], ...] = ()
    chart: Chart | None = None
    # The fact revisions this reply tells its reader, (fact id, revision): recorded once it is
    # delivered, so that a later correction reaches whoever was told the older version.
    facts: tuple[tuple[str, int], ...] = ()


def told(facts: Iterable[Fact]) -> tuple[tuple[str, int], ...]:
    """The (fact id, revision) pairs a reply carrying ``facts`` tells, each once."""
    return tuple(dict.fromkeys((fact.id, fact.revision) for fact in facts))


@dataclass(frozen=True)
class InlineCard:
    """One inline-mode result: a fact card to send, and the button that opens the bot on it."""

    fact_id: str  # the result id too: unique, at most 64 bytes
    title: str
    description: str
    reply: Reply
    open_label: str
    start_payload: str | None  # the deep link that opens this fact; None: no link


@dataclass(frozen=True)
class Who:
    """The sender of an update, as much as the conversation needs to know."""

    user_id: int
    language_code: str | None = None
    chat_id: int | None = None  # None: a private chat, whose id is the user's

    @property
    def chat(self) -> int:
        return self.user_id if self.chat_id is None else self.chat_id


# ---- what a search found (bot/qa/retrieval/index.py), for answers to compose


@dataclass(frozen=True)
class Hit:
    fact_id: str
    score: float
    coverage: float


# Why a search found or declined: "ok"; "confirmed" (the second opinion took a weak best
# fact); out of scope: "empty", "foreign", "injection"; in scope but not answered: "premise",
# "weak", "no-figure", "other-subject" (the best fact does not name a company the question
# names), "unheld" (what the question word asks for is no word of the store).
SearchReason = Literal[
    "ok",
    "confirmed",
    "empty",
    "foreign",
    "injection",
    "premise",
    "weak",
    "no-figure",
    "other-subject",
    "unheld",
]


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[Hit, ...]
    found: bool
    reason: SearchReason
    topics: tuple[str, ...] = ()  # closest topics, for suggestions when declining
