"""The fact store: content/ imported with revisions, read back as a Library.

On TinyDB it is ``facts.json``, rewritten whole and atomically by each import that changes
something; on PostgreSQL the same tables (numbered documents, in content order) are the
``facts`` namespace, and an import's changes are committed in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from bot.core.domain import (
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
)
from bot.store.atomic import AtomicJSONStorage
from bot.store.tables import AtomicTables, Backend, TinyDBBackend, backend_of

FACTS_FILE = "facts.json"
FACTS = "facts"
TABLES = ("facts", "sources", "topics", "briefings", "charts", "meta")
# Documents are numbered, as in TinyDB's file: the number keeps the content's order.
_NUMBERED = {name: (lambda doc: "") for name in TABLES}


@dataclass(frozen=True)
class ImportReport:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int

    @property
    def wrote(self) -> bool:
        return bool(self.added or self.changed or self.removed)


class FactStore:
    """Owns ``facts.json``. Facts keep a revision and the date they last changed."""

    def __init__(self, where: Path | Backend) -> None:
        backend = backend_of(where)
        self._db: TinyDB | None = None
        self._tables: AtomicTables | None = None
        if isinstance(backend, TinyDBBackend):
            self._path = backend.data_dir / FACTS_FILE
            self._db = TinyDB(self._path, storage=AtomicJSONStorage)
        else:
            tables = backend.open_tables(FACTS, _NUMBERED)
            if not isinstance(tables, AtomicTables):
                raise TypeError(f"the {backend.kind} backend cannot import facts atomically")
            self._tables = tables

    def observe(self, changed: Callable[[], None]) -> None:
        """Call ``changed`` when another replica imported content (PostgreSQL only: the
        data directory has one owner)."""
        if self._tables is not None:
            self._tables.observe(lambda _changes: changed())

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        if self._tables is not None:
            self._tables.close()

    def _read(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every table as numbered documents, in their order."""
        if self._db is not None:
            return dict(self._db.storage.read() or {})
        assert self._tables is not None
        return {
            name: dict(sorted(self._tables.table(name).items(), key=lambda kv: int(kv[0])))
            for name in TABLES
        }

    def _write(self, data: dict[str, dict[str, dict[str, Any]]]) -> None:
        if self._db is not None:
            self._db.storage.write(data)
            # TinyDB's tables cache ids; reopening is the public way to drop them.
            self._db.close()
            self._db = TinyDB(self._path, storage=AtomicJSONStorage)
            return
        assert self._tables is not None
        changes: dict[str, dict[str, dict[str, Any] | None]] = {}
        for name in TABLES:
            old, new = self._tables.table(name), data.get(name, {})
            changed: dict[str, dict[str, Any] | None] = {k: None for k in old if k not in new}
            changed |= {k: doc for k, doc in new.items() if old.get(k) != doc}
            if changed:
                changes[name] = changed
        self._tables.put_tables(changes)

    def _docs(self, name: str) -> list[dict[str, Any]]:
        if self._db is not None:
            return [dict(doc) for doc in self._db.table(name).all()]
        return list(self._read()[name].values())

    def content_digest(self) -> str | None:
        meta = self._docs("meta")
        return None if not meta else str(meta[0].get("content_digest"))

    def import_library(self, library: Library, digest: str, now: dt.datetime) -> ImportReport:
        """Bring the store in line with ``library``; unchanged content writes nothing.

        Everything goes to disk in one atomic write, so a crash leaves either the previous
        import or this one, never half of each.
        """
        today = now.date()
        stored = self._read()
        old_facts = {doc["id"]: doc for doc in stored.get("facts", {}).values()}
        new_facts: dict[str, dict[str, Any]] = {}
        added, changed = [], []
        for fact in library.facts.values():
            doc = _fact_doc(fact)
            fingerprint = _fingerprint(doc)
            old = old_facts.get(fact.id)
            if old is None:
                added.append(fact.id)
                changed_at = news_instant(fact.updated, now).isoformat()
                doc |= {"revision": 1, "fingerprint": fingerprint, "changed_at": changed_at}
            elif old.get("fingerprint") == fingerprint:
                doc = old
            else:
                changed.append(fact.id)
                # A curator may edit a fact without bumping its date: the store still dates
                # the change, because digests announce facts by their `updated` date.
                updated = max(fact.updated, today)
                doc |= {
                    "first_seen": old["first_seen"],
                    "updated": updated.isoformat(),
                    "revision": int(old.get("revision", 1)) + 1,
                    "fingerprint": fingerprint,
                    "changed_at": news_instant(updated, now).isoformat(),
                    "previous": {k: old[k] for k in ("text_fr", "text_en", "figures", "status")},
                }
            new_facts[fact.id] = doc
        removed = sorted(set(old_facts) - set(new_facts))
        report = ImportReport(
            tuple(added),
            tuple(changed),
            tuple(removed),
            len(new_facts) - len(added) - len(changed),
        )
        data = {
            "facts": {str(i): doc for i, doc in enumerate(new_facts.values(), 1)},
            "sources": {str(i): source_doc(s) for i, s in enumerate(library.sources.values(), 1)},
            "topics": {str(i): _topic_doc(t) for i, t in enumerate(library.topics, 1)},
            "briefings": {
                str(i): _briefing_doc(b) for i, b in enumerate(library.briefings.values(), 1)
            },
            "charts": {str(i): _series_doc(c) for i, c in enumerate(library.charts, 1)},
            "meta": {"1": {"content_digest": digest}},
        }
        if data != stored:
            self._write(data)
        return report

    def is_empty(self) -> bool:
        return not self._docs("facts")

    def library(self) -> Library:
        """The content as last imported."""
        facts = {doc["id"]: _fact_from(doc) for doc in self._docs("facts")}
        sources = {doc["id"]: source_from(doc) for doc in self._docs("sources")}
        topics = tuple(_topic_from(doc) for doc in self._docs("topics"))
        briefings = {doc["id"]: _briefing_from(doc) for doc in self._docs("briefings")}
        charts = tuple(_series_from(doc) for doc in self._docs("charts"))
        return Library(
            facts=facts, sources=sources, topics=topics, briefings=briefings, charts=charts
        )


def news_instant(updated: dt.date, imported: dt.datetime) -> dt.datetime:
    """When a new or changed fact counts as news for digests: the moment it was imported, but
    never outside the day its content says it was updated.

    The content's date decides, not the import: rebuilding ``facts.json``, or starting on a
    fresh data directory beside an existing ``users.json``, imports every fact again, and
    must not make the whole store news for every subscriber. The import time only orders the
    changes of the ``updated`` day itself (a fact added at noon reaches the subscribers whose
    digest went out that morning). A fact dated in the future becomes news on its day.
    """
    start = dt.datetime.combine(updated, dt.time(), dt.UTC)
    end = start + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return max(start, min(imported, end))


def _fingerprint(doc: dict[str, Any]) -> str:
    stable = {k: v for k, v in doc.items() if k not in ("first_seen", "updated")}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()[:16]


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(str(value))


def _fact_doc(fact: Fact) -> dict[str, Any]:
    return {
        "id": fact.id,
        "topic": fact.topic,
        "status": fact.status.value,
        "source": fact.source_id,
        "attribution": fact.attribution_id,
        "also": list(fact.also),
        "entities": list(fact.entities),
        "text_fr": fact.text.fr,
        "text_en": fact.text.en,
        "caveat_fr": fact.caveat.fr if fact.caveat else None,
        "caveat_en": fact.caveat.en if fact.caveat else None,
        "figures": [figure_doc(f) for f in fact.figures],
        "first_seen": fact.first_seen.isoformat(),
        "updated": fact.updated.isoformat(),
    }


def _fact_from(doc: dict[str, Any]) -> Fact:
    caveat = None
    if doc.get("caveat_fr") and doc.get("caveat_en"):
        caveat = Bilingual(doc["caveat_fr"], doc["caveat_en"])
    return Fact(
        id=doc["id"],
        topic=doc["topic"],
        status=Status(doc["status"]),
        source_id=doc["source"],
        attribution_id=doc.get("attribution"),
        also=tuple(doc.get("also", ())),
        entities=tuple(doc.get("entities", ())),
        text=Bilingual(doc["text_fr"], doc["text_en"]),
        caveat=caveat,
        figures=figures_from(doc.get("figures", ())),
        first_seen=dt.date.fromisoformat(doc["first_seen"]),
        updated=dt.date.fromisoformat(doc["updated"]),
        revision=int(doc.get("revision", 1)),
        changed_at=_instant(doc.get("changed_at")),
        previous_figures=figures_from(doc.get("previous", {}).get("figures", ())),
    )


def _instant(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(str(value))


def figure_doc(f: Figure) -> dict[str, Any]:
    """A figure as the stores keep it (facts.json, and approved facts in editorial.json)."""
    doc = {
        "name": f.name,
        "kind": f.kind,
        "value": f.value,
        "currency": f.currency,
        "as_of": _iso(f.as_of),
    }
    # Only when set: the documents of every other figure stay as they were.
    if f.paid_by is not None:
        doc["paid_by"] = f.paid_by
    if f.paid_to is not None:
        doc["paid_to"] = f.paid_to
    return doc


def figures_from(docs: Any) -> tuple[Figure, ...]:
    return tuple(
        Figure(
            f["name"],
            f["kind"],
            f["value"],
            f.get("currency"),
            _day(f.get("as_of")),
            f.get("paid_by"),
            f.get("paid_to"),
        )
        for f in docs
    )


def source_doc(source: Source) -> dict[str, Any]:
    return {
        "id": source.id,
        "publisher": source.publisher,
        "title": source.title,
        "url": source.url,
        "published": _iso(source.published),
        "language": source.language,
    }


def source_from(doc: dict[str, Any]) -> Source:
    return Source(
        doc["id"],
        doc["publisher"],
        doc["title"],
        doc.get("url"),
        _day(doc.get("published")),
        doc.get("language", "en"),
    )


def _topic_doc(topic: Topic) -> dict[str, Any]:
    return {
        "id": topic.id,
        "label_fr": topic.label.fr,
        "label_en": topic.label.en,
        "aliases": list(topic.aliases),
    }


def _topic_from(doc: dict[str, Any]) -> Topic:
    return Topic(doc["id"], Bilingual(doc["label_fr"], doc["label_en"]), tuple(doc["aliases"]))


def _briefing_doc(briefing: Briefing) -> dict[str, Any]:
    return {
        "id": briefing.id,
        "headline_fr": briefing.headline.fr,
        "headline_en": briefing.headline.en,
        "facts": list(briefing.fact_ids),
        "why_fr": briefing.why.fr,
        "why_en": briefing.why.en,
    }


def _briefing_from(doc: dict[str, Any]) -> Briefing:
    return Briefing(
        doc["id"],
        Bilingual(doc["headline_fr"], doc["headline_en"]),
        tuple(doc["facts"]),
        Bilingual(doc["why_fr"], doc["why_en"]),
    )


def _series_doc(series: ChartSeries) -> dict[str, Any]:
    return {
        "id": series.id,
        "topics": list(series.topics),
        "unit": series.unit,
        "label_fr": series.label.fr,
        "label_en": series.label.en,
        "points": [
            {"fact": p.fact_id, "figure": p.figure, "qualifier": p.qualifier}
            for p in series.points
        ],
    }


def _series_from(doc: dict[str, Any]) -> ChartSeries:
    return ChartSeries(
        doc["id"],
        tuple(doc["topics"]),
        doc["unit"],
        Bilingual(doc["label_fr"], doc["label_en"]),
        tuple(SeriesPoint(p["fact"], p["figure"], p.get("qualifier")) for p in doc["points"]),
    )
