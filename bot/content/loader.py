"""Load content/ (curated YAML) into domain values, reporting every problem as file:line."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.core.domain import (
    BRIEFING_IDS,
    FACT_TOPICS,
    FIGURE_KINDS,
    PERCENT_UNIT,
    QUALIFIERS,
    STATUSES,
    TOPICS,
    Bilingual,
    Briefing,
    ChartSeries,
    Fact,
    Figure,
    Library,
    SeriesPoint,
    Source,
    Status,
    Topic,
    figure_day,
    figure_unit,
)

CONTENT_FILES = ("sources.yaml", "facts.yaml", "topics.yaml", "briefings.yaml", "charts.yaml")
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ALIAS = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_DIGIT = re.compile(r"\d")
_MIN_BRIEFING_FACTS, _MAX_BRIEFING_FACTS = 3, 6


@dataclass(frozen=True)
class ContentError:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ContentInvalid(Exception):
    """content/ did not validate; ``errors`` lists every problem found."""

    def __init__(self, errors: list[ContentError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class _Node(dict[str, Any]):
    """A YAML mapping that remembers the line it started on (1-based)."""

    line: int = 0


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings know their line, so errors can point at the file."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Node:
    mapping = _Node({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class _Checker:
    path: Path
    errors: list[ContentError] = field(default_factory=list)

    def error(self, line: int, message: str) -> None:
        self.errors.append(ContentError(self.path, line, message))

    def items(self, document: Any, key: str) -> Iterator[_Node]:
        if not isinstance(document, _Node) or not isinstance(document.get(key), list):
            self.error(getattr(document, "line", 1), f"top-level key '{key}' must be a list")
            return
        for item in document[key]:
            if isinstance(item, _Node):
                yield item
            else:
                self.error(
                    getattr(document, "line", 1), f"every entry of '{key}' must be a mapping"
                )

    def text(self, node: _Node, key: str, *, required: bool = True) -> str | None:
        value = node.get(key)
        if value is None:
            if required:
                self.error(node.line, f"missing '{key}'")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(node.line, f"'{key}' must be a non-empty string")
            return None
        return value.strip()

    def date(self, node: _Node, key: str, *, required: bool = True) -> dt.date | None:
        value = node.get(key)
        if value is None:
            if required:
                self.error(node.line, f"missing '{key}' (YYYY-MM-DD)")
            return None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        self.error(node.line, f"'{key}' must be a date YYYY-MM-DD, got {value!r}")
        return None

    def choice(self, node: _Node, key: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(node, key)
        if value is not None and value not in allowed:
            self.error(node.line, f"'{key}' must be one of {', '.join(allowed)}, got {value!r}")
            return None
        return value

    def ident(self, node: _Node, seen: set[str]) -> str | None:
        value = self.text(node, "id")
        if value is None:
            return None
        if not _ID.match(value):
            self.error(node.line, f"id {value!r} must be lower-case kebab-case")
        if value in seen:
            self.error(node.line, f"duplicate id {value!r}")
        seen.add(value)
        return value

    def bilingual(self, node: _Node, stem: str, *, required: bool = True) -> Bilingual | None:
        fr = self.text(node, f"{stem}_fr", required=required)
        en = self.text(node, f"{stem}_en", required=required)
        if (fr is None) != (en is None) and f"{stem}_fr" in node and f"{stem}_en" in node:
            return None
        if not required and (f"{stem}_fr" in node) != (f"{stem}_en" in node):
            self.error(node.line, f"'{stem}_fr' and '{stem}_en' go together (FR/EN parity)")
            return None
        if fr is None or en is None:
            return None
        return Bilingual(fr=fr, en=en)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _read(path: Path, checker: _Checker) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506
    except FileNotFoundError:
        checker.error(1, "file is missing")
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        checker.error(line, f"invalid YAML: {exc.problem}")
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        checker.error(1, f"unreadable: {exc}")
    return None


def content_digest(content_dir: Path) -> str:
    """A hash of the content files, to skip re-importing unchanged content at start-up."""
    digest = hashlib.sha256()
    for name in CONTENT_FILES:
        path = content_dir / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def load_library(content_dir: Path) -> Library:
    """Read and validate content_dir; raise ContentInvalid listing every error."""
    errors: list[ContentError] = []
    sources = _load_sources(content_dir / "sources.yaml", errors)
    facts = _load_facts(content_dir / "facts.yaml", sources, errors)
    topics = _load_topics(content_dir / "topics.yaml", errors)
    briefings = _load_briefings(content_dir / "briefings.yaml", facts, errors)
    charts = _load_charts(content_dir / "charts.yaml", facts, sources, errors)
    if errors:
        raise ContentInvalid(errors)
    return Library(facts=facts, sources=sources, topics=topics, briefings=briefings, charts=charts)


def _load_sources(path: Path, errors: list[ContentError]) -> dict[str, Source]:
    check = _Checker(path)
    sources: dict[str, Source] = {}
    seen: set[str] = set()
    for node in check.items(_read(path, check), "sources"):
        ident = check.ident(node, seen)
        publisher = check.text(node, "publisher")
        title = check.text(node, "title")
        url = check.text(node, "url", required=False)
        if url is not None and not url.startswith(("https://", "http://")):
            check.error(node.line, f"url must be http(s), got {url!r}")
        if "published" not in node:
            check.error(node.line, "missing 'published' (YYYY-MM-DD, or null when unknown)")
        published = check.date(node, "published", required=False)
        language = check.choice(node, "language", ("fr", "en"))
        if ident and publisher and title and language:
            sources[ident] = Source(ident, publisher, title, url, published, language)
    errors.extend(check.errors)
    return sources


def _load_figures(node: _Node, check: _Checker) -> tuple[Figure, ...]:
    raw = node.get("figures") or {}
    if not isinstance(raw, dict):
        check.error(node.line, "'figures' must be a mapping of placeholder name to figure")
        return ()
    figures = []
    for name, spec in raw.items():
        if not isinstance(spec, _Node):
            check.error(node.line, f"figure {name!r} must be a mapping")
            continue
        if (figure := _figure(name, spec, check)) is not None:
            figures.append(figure)
    return tuple(figures)


_FigureValue = float | int | str | None


def _figure(name: object, spec: _Node, check: _Checker) -> Figure | None:
    """One figure: its kind, the value that kind needs, and the optional 'as_of'."""
    kind = check.choice(spec, "kind", FIGURE_KINDS)
    value, currency = _figure_value(name, kind, spec, check)
    as_of = check.date(spec, "as_of", required=False)
    paid_by = check.text(spec, "paid_by", required=False)
    paid_to = check.text(spec, "paid_to", required=False)
    if (paid_by or paid_to) and kind != "money":
        check.error(spec.line, f"figure {name!r}: only an amount can be paid_by or paid_to")
    if kind is None or value is None:
        return None
    return Figure(str(name), kind, value, currency, as_of, paid_by, paid_to)


def _figure_value(
    name: object, kind: str | None, spec: _Node, check: _Checker
) -> tuple[_FigureValue, str | None]:
    """The figure's value (and currency, for money), checked against its kind."""
    if kind == "money":
        return _money(name, spec, check)
    if kind in ("percent", "year", "count"):
        return _number(name, spec, check), None
    if kind == "date":
        day = check.date(spec, "value")
        return (day.isoformat() if day else None), None
    if kind == "month":
        return _month(name, spec, check), None
    return None, None


def _money(name: object, spec: _Node, check: _Checker) -> tuple[_FigureValue, str | None]:
    amount = spec.get("amount")
    currency = check.text(spec, "currency")
    value: _FigureValue = None
    if not isinstance(amount, int | float) or isinstance(amount, bool) or amount < 0:
        check.error(spec.line, f"figure {name!r}: 'amount' must be a positive number")
    else:
        value = amount
    if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
        check.error(spec.line, f"figure {name!r}: currency must be ISO 4217")
    return value, currency


def _number(name: object, spec: _Node, check: _Checker) -> _FigureValue:
    raw_value = spec.get("value")
    if not isinstance(raw_value, int | float) or isinstance(raw_value, bool):
        check.error(spec.line, f"figure {name!r}: 'value' must be a number")
        return None
    return raw_value


def _month(name: object, spec: _Node, check: _Checker) -> _FigureValue:
    month = str(spec.get("value", ""))
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        check.error(spec.line, f"figure {name!r}: month 'value' must be YYYY-MM")
        return None
    return month


def _strings(value: Any, node: _Node, check: _Checker, message: str) -> list[str] | None:
    """``value`` as a list of strings, or None (and ``message`` reported) when it is not one."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        check.error(node.line, message)
        return None
    return [str(v) for v in value]


def _load_facts(
    path: Path, sources: dict[str, Source], errors: list[ContentError]
) -> dict[str, Fact]:
    check = _Checker(path)
    facts: dict[str, Fact] = {}
    seen: set[str] = set()
    for node in check.items(_read(path, check), "facts"):
        if (fact := _fact(node, check, seen, sources)) is not None:
            facts[fact.id] = fact
    errors.extend(check.errors)
    return facts


def _fact(node: _Node, check: _Checker, seen: set[str], sources: dict[str, Source]) -> Fact | None:
    """One entry of facts.yaml, or None when a required part is missing or invalid."""
    ident = check.ident(node, seen)
    topic = check.choice(node, "topic", FACT_TOPICS)
    status = check.choice(node, "status", STATUSES)
    source_id, attribution, also = _fact_sources(node, check, sources)
    first_seen, updated = _fact_dates(node, check)
    entities = _strings(
        node.get("entities") or [], node, check, "'entities' must be a list of names"
    )
    text = check.bilingual(node, "text")
    caveat = check.bilingual(node, "caveat", required=False)
    figures = _load_figures(node, check)
    _check_fact_figures(node, check, text, caveat, figures)
    for figure in figures:
        for party in (figure.paid_by, figure.paid_to):
            if party is not None and party not in (entities or ()):
                check.error(node.line, f"figure {figure.name!r}: {party!r} is not in 'entities'")
    if not (ident and topic and status and source_id and first_seen and updated and text):
        return None
    return Fact(
        id=ident,
        topic=topic,
        status=Status(status),
        source_id=source_id,
        text=text,
        first_seen=first_seen,
        updated=updated,
        figures=figures,
        attribution_id=attribution,
        also=tuple(also),
        entities=tuple(entities or ()),
        caveat=caveat,
    )


def _fact_sources(
    node: _Node, check: _Checker, sources: dict[str, Source]
) -> tuple[str | None, str | None, list[str]]:
    """The fact's source, attribution and 'also' ids, each checked against sources.yaml."""
    source_id = check.text(node, "source")
    attribution = check.text(node, "attribution", required=False)
    also = _strings(node.get("also") or [], node, check, "'also' must be a list of source ids")
    for ref in (source_id, attribution, *(also or ())):
        if ref is not None and ref not in sources:
            check.error(node.line, f"unknown source {ref!r} (not in sources.yaml)")
    return source_id, attribution, also or []


def _fact_dates(node: _Node, check: _Checker) -> tuple[dt.date | None, dt.date | None]:
    first_seen = check.date(node, "first_seen")
    updated = check.date(node, "updated")
    if first_seen and updated and updated < first_seen:
        check.error(node.line, "'updated' is earlier than 'first_seen'")
    return first_seen, updated


def _check_fact_figures(
    node: _Node,
    check: _Checker,
    text: Bilingual | None,
    caveat: Bilingual | None,
    figures: tuple[Figure, ...],
) -> None:
    """Numbers live in figures: no literal digits, every placeholder defined, the same figures
    in both languages, and every figure used."""
    names = {f.name for f in figures}
    for label, value in _texts(text, caveat):
        if _DIGIT.search(value):
            check.error(node.line, f"{label} has literal digits: use a figure placeholder")
        unknown = _placeholders(value) - names
        if unknown:
            check.error(node.line, f"{label} uses undefined figure(s) {sorted(unknown)}")
    if text is not None:
        fr, en = _placeholders(text.fr), _placeholders(text.en)
        if fr != en:
            check.error(node.line, f"text_fr and text_en use different figures: {fr} vs {en}")
        if unused := names - fr - en:
            check.error(node.line, f"figure(s) {sorted(unused)} not used in the text")


def _texts(text: Bilingual | None, caveat: Bilingual | None) -> Iterator[tuple[str, str]]:
    for stem, value in (("text", text), ("caveat", caveat)):
        if value is not None:
            yield f"{stem}_fr", value.fr
            yield f"{stem}_en", value.en


def _load_topics(path: Path, errors: list[ContentError]) -> tuple[Topic, ...]:
    check = _Checker(path)
    topics: list[Topic] = []
    seen: set[str] = set()
    aliases_seen: dict[str, str] = {}
    for node in check.items(_read(path, check), "topics"):
        ident = check.choice(node, "id", TOPICS)
        if ident in seen:
            check.error(node.line, f"duplicate topic {ident!r}")
        label = check.bilingual(node, "label")
        aliases = _aliases(node, check, ident, aliases_seen)
        if ident and label and ident not in seen:
            topics.append(Topic(ident, label, aliases))
        if ident:
            seen.add(ident)
    if (missing := set(TOPICS) - seen) and not check.errors:
        check.error(1, f"missing topic(s): {', '.join(sorted(missing))}")
    errors.extend(check.errors)
    order = {t: i for i, t in enumerate(TOPICS)}
    return tuple(sorted(topics, key=lambda t: order[t.id]))


def _aliases(
    node: _Node, check: _Checker, ident: str | None, aliases_seen: dict[str, str]
) -> tuple[str, ...]:
    """The topic's aliases; each is a lower-case word that no other topic (nor 'overview')
    already has. ``aliases_seen`` (alias -> topic) grows with the valid ones."""
    aliases = node.get("aliases") or []
    if not isinstance(aliases, list):
        check.error(node.line, "'aliases' must be a list")
        return ()
    for alias in aliases:
        if not isinstance(alias, str) or not _ALIAS.match(alias):
            check.error(node.line, f"alias {alias!r} must be a lower-case word")
        elif alias == "overview" or aliases_seen.get(alias, ident) != ident:
            check.error(node.line, f"alias {alias!r} is already taken")
        else:
            aliases_seen[alias] = ident or ""
    return tuple(str(a) for a in aliases)


def _load_briefings(
    path: Path, facts: dict[str, Fact], errors: list[ContentError]
) -> dict[str, Briefing]:
    check = _Checker(path)
    briefings: dict[str, Briefing] = {}
    for node in check.items(_read(path, check), "briefings"):
        ident = check.choice(node, "id", BRIEFING_IDS)
        if ident in briefings:
            check.error(node.line, f"duplicate briefing {ident!r}")
        headline = check.bilingual(node, "headline")
        why = check.bilingual(node, "why")
        for label, value in _texts(headline, None):
            if _placeholders(value):
                check.error(node.line, f"headline {label[-2:]} cannot use placeholders")
        fact_ids = _briefing_facts(node, check, facts)
        if ident and headline and why:
            briefings[ident] = Briefing(ident, headline, tuple(fact_ids), why)
    if (missing := set(BRIEFING_IDS) - set(briefings)) and not check.errors:
        check.error(1, f"missing briefing(s): {', '.join(sorted(missing))}")
    errors.extend(check.errors)
    return briefings


def _briefing_facts(node: _Node, check: _Checker, facts: dict[str, Fact]) -> list[str]:
    """The briefing's fact ids: a list of known facts, each once, within the allowed count."""
    fact_ids = _strings(node.get("facts"), node, check, "'facts' must be a list of fact ids") or []
    if not _MIN_BRIEFING_FACTS <= len(fact_ids) <= _MAX_BRIEFING_FACTS:
        check.error(
            node.line,
            f"a briefing lists {_MIN_BRIEFING_FACTS} to {_MAX_BRIEFING_FACTS} facts, "
            f"not {len(fact_ids)}",
        )
    for fact_id in fact_ids:
        if fact_id not in facts:
            check.error(node.line, f"unknown fact {fact_id!r}")
    if len(set(fact_ids)) != len(fact_ids):
        check.error(node.line, "a fact is listed twice")
    return fact_ids


_MIN_SERIES_POINTS = 2


def _load_charts(
    path: Path, facts: dict[str, Fact], sources: dict[str, Source], errors: list[ContentError]
) -> tuple[ChartSeries, ...]:
    """charts.yaml: each series one unit, at least two points, each a fact's figure of that
    unit at a date strictly after the previous point's."""
    check = _Checker(path)
    series: list[ChartSeries] = []
    seen: set[str] = set()
    for node in check.items(_read(path, check), "series"):
        ident = check.ident(node, seen)
        topics = _series_topics(node, check)
        unit = check.text(node, "unit")
        if unit is not None and unit != PERCENT_UNIT and not re.fullmatch(r"[A-Z]{3}", unit):
            check.error(node.line, f"unit must be {PERCENT_UNIT!r} or an ISO 4217 currency")
            unit = None
        label = check.bilingual(node, "label")
        points = _series_points(node, check, unit, facts, sources)
        if ident and topics and unit and label and points is not None:
            series.append(ChartSeries(ident, topics, unit, label, points))
    errors.extend(check.errors)
    return tuple(series)


def _series_topics(node: _Node, check: _Checker) -> tuple[str, ...]:
    topics = _strings(node.get("topics"), node, check, "'topics' must be a list of topic ids")
    if topics is None:
        return ()
    if not topics:
        check.error(node.line, "'topics' names at least one topic (where its Chart button goes)")
    for topic in topics:
        if topic not in TOPICS:
            check.error(node.line, f"unknown topic {topic!r}: one of {', '.join(TOPICS)}")
    return tuple(topics) if set(topics) <= set(TOPICS) else ()


def _series_points(
    node: _Node,
    check: _Checker,
    unit: str | None,
    facts: dict[str, Fact],
    sources: dict[str, Source],
) -> tuple[SeriesPoint, ...] | None:
    """The series' points, or None when one is invalid or the dates do not strictly rise."""
    raw = node.get("points")
    if not isinstance(raw, list) or not all(isinstance(p, _Node) for p in raw):
        check.error(node.line, "'points' must be a list of mappings {fact: <id>, figure: <name>}")
        return None
    if len(raw) < _MIN_SERIES_POINTS:
        check.error(
            node.line, f"a series has at least {_MIN_SERIES_POINTS} points, not {len(raw)}"
        )
    points: list[SeriesPoint] = []
    previous: dt.date | None = None
    valid = len(raw) >= _MIN_SERIES_POINTS and unit is not None
    for spec in raw:
        dated = _series_point(spec, check, unit, facts, sources) if unit else None
        if dated is None:
            valid = False
            continue
        point, day = dated
        if previous is not None and day <= previous:
            check.error(
                spec.line,
                f"point {point.fact_id!r} is dated {day}, not after the previous point "
                f"({previous}): a series has one point per date, in increasing order",
            )
            valid = False
        previous = day if previous is None else max(previous, day)
        points.append(point)
    return tuple(points) if valid else None


def _series_point(
    spec: _Node, check: _Checker, unit: str, facts: dict[str, Fact], sources: dict[str, Source]
) -> tuple[SeriesPoint, dt.date] | None:
    """One point and its date, checked against the fact it names."""
    fact_id = check.text(spec, "fact")
    name = check.text(spec, "figure", required=False)
    qualifier = check.text(spec, "qualifier", required=False)
    if qualifier is not None and qualifier not in QUALIFIERS:
        check.error(spec.line, f"'qualifier' must be one of {', '.join(QUALIFIERS)}")
        return None
    if fact_id is None:
        return None
    fact = facts.get(fact_id)
    if fact is None:
        check.error(spec.line, f"unknown fact {fact_id!r}")
        return None
    if fact.status is Status.DENIED:
        check.error(spec.line, f"fact {fact_id!r} is denied: its figure is no value to chart")
        return None
    candidates = [f for f in fact.figures if figure_unit(f) == unit]
    if name is not None:
        candidates = [f for f in candidates if f.name == name]
    if len(candidates) != 1:
        if len(candidates) > 1:
            problem = f"has several figures in {unit}: name one with 'figure'"
        else:
            problem = f"has no figure {name!r} in {unit}" if name else f"has no figure in {unit}"
        check.error(spec.line, f"fact {fact_id!r} {problem}")
        return None
    [figure] = candidates
    day = figure_day(fact, figure, sources)
    if day is None:
        check.error(
            spec.line,
            f"figure {figure.name!r} of {fact_id!r} has no date: give it 'as_of', a date "
            "figure, or a dated source",
        )
        return None
    return SeriesPoint(fact_id, figure.name, qualifier), day


def check_facts_text(
    text: str,
    sources: dict[str, Source],
    *,
    taken: set[str] | frozenset[str] = frozenset(),
    path: Path = Path("approved-facts.yaml"),
) -> tuple[dict[str, Fact], list[ContentError]]:
    """Validate a ``facts:`` YAML document as ``content check`` validates facts.yaml, against
    ``sources``; an id in ``taken`` (content/'s own) is a duplicate."""
    check = _Checker(path)
    seen = set(taken)
    facts: dict[str, Fact] = {}
    document = None
    try:
        document = yaml.load(text, Loader=_LineLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        check.error(1, f"invalid YAML: {exc}")
    if document is not None:
        for node in check.items(document, "facts"):
            if (fact := _fact(node, check, seen, sources)) is not None:
                facts[fact.id] = fact
    return facts, check.errors
