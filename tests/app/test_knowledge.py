"""The Knowledge swap (bot/app/services.py): a reload replaces library, lexicon and index
together, and a reader holding the old Knowledge keeps a consistent old triple."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.app import services as services_module
from bot.app.services import Knowledge, Services
from bot.config import Settings
from bot.content.loader import ContentInvalid
from bot.core.clock import system_clock
from bot.qa.retrieval.index import FactIndex
from bot.store.pg.backend import PgBackend
from tests.conftest import CONTENT

MARKER = "Zanzibarco"


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A copy of content/ that the test may edit."""
    copy = tmp_path / "content"
    shutil.copytree(CONTENT, copy)
    return copy


@pytest.fixture
def opened(content: Path, tmp_path: Path) -> Iterator[Services]:
    services = Services.open(
        Settings(data_dir=tmp_path / "data", content_dir=content), system_clock
    )
    yield services
    services.close()


def _edit_content(content: Path) -> str:
    """Reword one fact and name one more foreign company; returns the reworded fact's id."""
    facts_path = content / "facts.yaml"
    document = yaml.safe_load(facts_path.read_text(encoding="utf-8"))
    fact = document["facts"][0]
    fact["text_en"] = f"{fact['text_en'].rstrip()} {MARKER} says so."
    facts_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    lexicon_path = content / "lexicon.yaml"
    text = lexicon_path.read_text(encoding="utf-8")
    assert "foreign_entities: [" in text
    lexicon_path.write_text(
        text.replace("foreign_entities: [", "foreign_entities: [acmeforeign, ", 1),
        encoding="utf-8",
    )
    return str(fact["id"])


def _consistent(knowledge: Knowledge) -> None:
    assert knowledge.index.library is knowledge.library
    assert knowledge.index.lexicon is knowledge.lexicon


def test_a_reload_replaces_library_lexicon_and_index_together(
    opened: Services, content: Path
) -> None:
    old = opened.knowledge()
    _consistent(old)
    fact_id = _edit_content(content)
    report = opened.reload()
    assert report.changed or report.added, report
    new = opened.knowledge()
    assert new is not old
    _consistent(new)
    assert new.library is not old.library
    assert new.lexicon is not old.lexicon
    assert new.index is not old.index
    assert MARKER in new.library.facts[fact_id].text.en
    assert "acmeforeign" in new.lexicon.foreign_entities
    # The getters the router, engine and digests read through see the new triple at once.
    assert opened.library() is new.library
    assert opened.index() is new.index


def test_a_reader_holding_the_old_knowledge_keeps_the_old_triple(
    opened: Services, content: Path
) -> None:
    held = opened.knowledge()
    library, lexicon, index = held.library, held.lexicon, held.index
    fact_id = _edit_content(content)
    opened.reload()
    assert (held.library, held.lexicon, held.index) == (library, lexicon, index)
    assert held.library is library and held.lexicon is lexicon and held.index is index
    _consistent(held)
    assert MARKER not in held.library.facts[fact_id].text.en
    assert "acmeforeign" not in held.lexicon.foreign_entities
    # The old index still answers from the old library: its hits are old facts.
    result = held.index.search("How much has Microsoft invested in OpenAI?", "en")
    assert result.hits and all(h.fact_id in held.library.facts for h in result.hits)
    with pytest.raises(dataclasses.FrozenInstanceError):
        held.index = opened.index()  # type: ignore[misc]


def test_while_the_new_index_builds_readers_still_get_the_old_knowledge(
    opened: Services, content: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = opened.knowledge()
    seen_during_build: list[Knowledge] = []

    class Spying(FactIndex):
        def __init__(self, *args: object, **kwargs: object) -> None:
            seen_during_build.append(opened.knowledge())
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            seen_during_build.append(opened.knowledge())

    monkeypatch.setattr(services_module, "FactIndex", Spying)
    _edit_content(content)
    opened.reload()
    assert seen_during_build == [old, old]
    assert all(k is old for k in seen_during_build)
    assert isinstance(opened.index(), Spying)


def test_a_reload_of_invalid_content_keeps_the_current_knowledge(
    opened: Services, content: Path
) -> None:
    old = opened.knowledge()
    (content / "facts.yaml").write_text("facts: not a list\n", encoding="utf-8")
    with pytest.raises(ContentInvalid):
        opened.reload()
    assert opened.knowledge() is old
    _consistent(old)


def test_content_reloaded_on_one_replica_is_answered_from_on_the_other(
    content: Path, tmp_path: Path, database_url: str
) -> None:
    """On PostgreSQL, replica B rebuilds its index from the facts replica A imported."""

    def replica(name: str) -> Services:
        settings = Settings(
            data_dir=tmp_path / name, content_dir=content, database_url=database_url
        )
        return Services.open(settings, system_clock)

    a = replica("a")
    b = replica("b")
    try:
        fact_id = _edit_content(content)
        assert a.reload().changed
        assert isinstance(a.backend, PgBackend) and a.backend.settle()
        assert isinstance(b.backend, PgBackend) and b.backend.catch_up()
        assert MARKER in b.library().facts[fact_id].text.en
        _consistent(b.knowledge())
        assert b.index().library is b.library()
    finally:
        a.close()
        b.close()
