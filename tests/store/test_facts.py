"""Importing content is idempotent; a changed fact gets a new revision and updated date."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from bot.core.domain import Bilingual, Library
from bot.store.facts import FACTS_FILE, FactStore
from tests.store.conftest import Where

TODAY = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def test_first_import_adds_everything_and_reads_back(where: Where, library: Library) -> None:
    store = FactStore(where())
    report = store.import_library(library, "d1", TODAY)
    assert set(report.added) == set(library.facts) and not report.changed
    stored = store.library()
    assert all(f.changed_at is not None for f in stored.facts.values())
    without_instants = {
        k: dataclasses.replace(f, changed_at=None) for k, f in stored.facts.items()
    }
    assert dataclasses.replace(stored, facts=without_instants) == library
    assert stored.charts == library.charts and stored.charts, "chart series are stored too"
    assert store.content_digest() == "d1"
    store.close()


def test_reimporting_unchanged_content_writes_nothing(tmp_path: Path, library: Library) -> None:
    store = FactStore(tmp_path)
    store.import_library(library, "d1", TODAY)
    before = (tmp_path / FACTS_FILE).stat()
    report = store.import_library(library, "d1", TODAY + dt.timedelta(days=3))
    after = (tmp_path / FACTS_FILE).stat()
    assert not report.wrote and report.unchanged == len(library.facts)
    assert (before.st_mtime_ns, before.st_ino) == (after.st_mtime_ns, after.st_ino)
    store.close()


def test_changed_fact_gets_revision_and_date_and_keeps_previous(
    where: Where, library: Library
) -> None:
    store = FactStore(where())
    store.import_library(library, "d1", TODAY)
    fact_id = "stakes-microsoft-27pct-of-openai-group"
    old = library.facts[fact_id]
    first_news = store.library().facts[fact_id].news_at
    edited = dataclasses.replace(old, text=Bilingual(old.text.fr + " Modifié.", old.text.en))
    later = TODAY + dt.timedelta(days=2)
    changed = dataclasses.replace(library, facts={**library.facts, fact_id: edited})
    report = store.import_library(changed, "d2", later)
    assert report.changed == (fact_id,)
    reloaded = FactStore(where()).library().facts[fact_id]
    assert reloaded.revision == 2
    assert reloaded.updated == later.date()
    assert reloaded.first_seen == old.first_seen
    assert reloaded.text.fr.endswith("Modifié.")
    assert reloaded.previous_figures == old.figures
    assert reloaded.changed_at == later, "an edit is news from the day it was imported"
    assert reloaded.changed_since(first_news)
    store.close()


def test_removed_fact_is_reported(where: Where, library: Library) -> None:
    store = FactStore(where())
    store.import_library(library, "d1", TODAY)
    fact_id = next(iter(library.facts))
    fewer = dataclasses.replace(
        library, facts={k: v for k, v in library.facts.items() if k != fact_id}
    )
    assert store.import_library(fewer, "d2", TODAY).removed == (fact_id,)
    assert fact_id not in store.library().facts
    store.close()
