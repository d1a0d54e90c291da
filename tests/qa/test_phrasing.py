"""LLM phrasing over real HTTP against a local OpenAI-compatible server: grounded or extract."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.app.services import build_conversation
from bot.compose.render_text import render_plain
from bot.config import Settings
from bot.content.lexicon import load_lexicon
from bot.core.domain import Lang, Library, Who
from bot.i18n.translator import translator
from bot.qa.engine import QuestionEngine
from bot.qa.phrasing import Phraser
from bot.qa.retrieval.index import FactIndex
from tests import timetravel
from tests.conftest import CONTENT, REPO
from tests.support.llm_server import FakeLLMServer, Reply


class _Prefs:
    def get_lang(self, user_id: int) -> Lang | None:
        return None

    def set_lang(self, user_id: int, lang: Lang) -> None:
        """Not used."""


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as running:
        yield running


@pytest.fixture
async def phraser(server: FakeLLMServer) -> AsyncIterator[Phraser]:
    settings = Settings(
        llm_base_url=server.base_url, llm_model="test", llm_deadline=3.0, llm_questions_per_hour=2
    )
    made = Phraser.from_settings(settings, lambda: NOW)
    assert made is not None
    yield made
    await made.aclose()


@pytest.fixture(scope="module")
def conversation(library: Library) -> QuestionEngine:
    index = FactIndex(library, load_lexicon(CONTENT))
    engine = build_conversation(lambda: library, _Prefs(), "en", index=lambda: index).engine
    assert engine is not None
    return engine


NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
QUESTION = "How much has Microsoft invested in OpenAI?"


async def test_grounded_answer_is_shown_with_the_extract_sources(
    server: FakeLLMServer, phraser: Phraser, conversation: QuestionEngine, library: Library
) -> None:
    asked = conversation.ask(Who(1, "en"), QUESTION)
    fact = library.facts[asked.answer.fact_ids[0]]
    assert "$13 billion" in render_plain(asked.reply)
    server.script(Reply(content="Microsoft has invested more than $13 billion in OpenAI [1]."))
    phrased = await phraser.phrase(asked, library, translator("en"))
    assert phrased.reason == "llm" and phrased.reply is not None
    text = render_plain(phrased.reply)
    # The model's [1] (its first fact) became that fact's source numbers in the extract.
    cited = "".join(f"[{n}]" for n in range(1, len(fact.source_ids()) + 1))
    assert f"OpenAI {cited}." in text or f"OpenAI{cited}." in text
    assert [b.text for b in phrased.reply.blocks if b.kind == "source"] == [
        b.text for b in asked.reply.blocks if b.kind == "source"
    ]
    prompt = server.requests[-1].body["messages"][1]["content"]
    assert "[1]" in prompt and QUESTION in prompt


async def test_a_number_not_in_the_facts_falls_back_to_the_extract(
    server: FakeLLMServer, phraser: Phraser, conversation: QuestionEngine, library: Library
) -> None:
    asked = conversation.ask(Who(2, "en"), QUESTION)
    server.script(Reply(content="Microsoft owns 49% of OpenAI [1]."))
    phrased = await phraser.phrase(asked, library, translator("en"))
    assert phrased.reply is None and phrased.reason == "ungrounded"


async def test_streamed_progress_then_final(
    server: FakeLLMServer, phraser: Phraser, conversation: QuestionEngine, library: Library
) -> None:
    asked = conversation.ask(Who(3, "fr"), "Combien Microsoft a-t-il investi ?")
    server.script(Reply(content="Plus de 13 milliards de dollars [1].", chunks=4))
    seen: list[str] = []

    async def progress(text: str) -> None:
        seen.append(text)

    phrased = await phraser.phrase(asked, library, translator("fr"), progress=progress)
    assert phrased.reason == "llm"
    assert len(seen) >= 2 and seen[-1].startswith("Plus de 13 milliards")
    assert all("[" not in s for s in seen), "fact numbers are hidden until renumbered"


async def test_server_errors_fall_back_within_the_deadline(
    server: FakeLLMServer, phraser: Phraser, conversation: QuestionEngine, library: Library
) -> None:
    asked = conversation.ask(Who(4, "en"), QUESTION)
    server.script(*[Reply(stall=10.0)] * 3)
    started = time.monotonic()
    phrased = await phraser.phrase(asked, library, translator("en"))
    assert phrased.reply is None and phrased.reason == "LLMTimeout"
    assert time.monotonic() - started < 4.5


async def test_declined_questions_never_reach_the_model(
    server: FakeLLMServer, phraser: Phraser, conversation: QuestionEngine, library: Library
) -> None:
    asked = conversation.ask(Who(5, "en"), "What stake does Amazon hold in Anthropic?")
    phrased = await phraser.phrase(asked, library, translator("en"))
    assert phrased.reason == "declined" and server.requests == []


async def test_per_user_hourly_limit(phraser: Phraser) -> None:
    assert [phraser.allow(7) for _ in range(3)] == [True, True, False]
    assert phraser.allow(8)


def test_cli_ask_uses_the_llm_when_configured(server: FakeLLMServer) -> None:
    server.script(Reply(content="More than $13 billion [1]."))
    env = {
        "PATH": os.environ.get("PATH", ""),
        **timetravel.child_env(),
        "LLM_BASE_URL": server.base_url,
        "LLM_MODEL": "test",
        "LANG": "C.UTF-8",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", QUESTION],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["answer"].startswith("More than $13 billion [1][2].\nSources\n[1] ")
    assert payload["found"] is True and payload["citations"][0]["n"] == 1
    assert len(server.requests) == 1
