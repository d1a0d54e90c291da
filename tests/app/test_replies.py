"""Replies composed once per library, language and locale: found again until a reload swaps
the library, which recomposes them from the new content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.app.replies import ReplyCache
from bot.app.services import Services
from bot.compose.render_text import render_plain
from bot.config import Settings
from bot.core.clock import system_clock
from bot.core.domain import Block, Library, Reply, Who
from tests.conftest import CONTENT

MARKER = "Zanzibarco"


def test_a_reply_is_composed_once_per_key_and_library(library: Library) -> None:
    current = [library]
    cache = ReplyCache(lambda: current[0], capacity=2)
    made: list[str] = []

    def compose(text: str) -> Reply:
        made.append(text)
        return Reply("en", (Block("text", text),))

    first = cache.get(("a", "en"), lambda: compose("a"))
    assert cache.get(("a", "en"), lambda: compose("again")) is first
    assert cache.get(("a", "fr"), lambda: compose("a fr")).blocks[0].text == "a fr"
    assert made == ["a", "a fr"]
    current[0] = Library(library.facts, library.sources, library.topics, library.briefings)
    assert cache.get(("a", "en"), lambda: compose("a, new library")) is not first
    assert made[-1] == "a, new library" and cache.composed == 3


def test_the_oldest_reply_goes_past_the_capacity(library: Library) -> None:
    cache = ReplyCache(lambda: library, capacity=2)
    for key in ("a", "b", "c"):
        cache.get(key, lambda key=key: Reply("en", (Block("text", key),)))
    assert cache.composed == 3
    cache.get("c", lambda: Reply("en", ()))
    cache.get("a", lambda: Reply("en", (Block("text", "a again"),)))
    assert cache.composed == 4, "a was dropped; c was still there"


@pytest.fixture
def opened(tmp_path: Path) -> Services:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    return Services.open(Settings(data_dir=tmp_path / "data", content_dir=content), system_clock)


def test_briefings_are_found_again_per_language_and_recomposed_after_a_reload(
    opened: Services,
) -> None:
    try:
        router = opened.router
        en, fr, en_gb = Who(1, "en"), Who(2, "fr"), Who(3, "en-GB")
        overview = router.brief(en)
        assert router.brief(Who(9, "en")) is overview, "another English reader: the same reply"
        assert router.brief(fr) is not overview and router.brief(fr).lang == "fr"
        assert router.brief(en_gb) is not overview, "a locale of its own formats its own figures"
        router.set_lang(en, "fr")
        assert router.brief(en) is router.brief(fr), "after /lang fr: the French reply"
        briefing = opened.library().briefings["overview"]
        fact_id = briefing.fact_ids[0]
        facts_path = opened.settings.content_dir / "facts.yaml"
        document = yaml.safe_load(facts_path.read_text(encoding="utf-8"))
        [fact] = [f for f in document["facts"] if f["id"] == fact_id]
        fact["text_en"] = f"{fact['text_en'].rstrip()} {MARKER} says so."
        facts_path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        assert MARKER not in render_plain(router.brief(Who(9, "en")))
        opened.reload()
        reloaded = router.brief(Who(9, "en"))
        assert reloaded is not overview and MARKER in render_plain(reloaded)
    finally:
        opened.close()
