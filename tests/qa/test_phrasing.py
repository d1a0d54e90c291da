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
    assert "number 49" in phrased.detail


async def test_streamed_progress_then_final(
    server: FakeLLMServer, phraser: Phraser, conversation: QuestionEngine, library: Library
) -> None:
    asked = conversation.ask(Who(3, "fr"), "Combien Microsoft a-t-il investi ?")
    first = "Microsoft a investi plus de 13 milliards de dollars dans OpenAI [1]."
    server.script(Reply(content=f"{first} Plus de 13 milliards de dollars [1].", chunks=12))
    seen: list[str] = []

    async def progress(text: str) -> None:
        seen.append(text)

    phrased = await phraser.phrase(asked, library, translator("fr"), progress=progress)
    assert phrased.reason == "llm" and phrased.reply is not None
    # Only whole sentences the guard accepted, already cited with the extract's sources.
    assert seen == [first.replace("[1]", "[1][2]")]
    assert render_plain(phrased.reply).startswith(f"{first.replace('[1]', '[1][2]')} Plus de")


async def test_server_errors_fall_back_within_the_deadline(
    server: FakeLLMServer, phraser: Phraser, conversation: QuestionEngine, library: Library
) -> None:
    asked = conversation.ask(Who(4, "en"), QUESTION)
    server.script(*[Reply(stall=10.0)] * 3)
    started = time.monotonic()
    phrased = await phraser.phrase(asked, library, translator("en"))
    assert phrased.reply is None and phrased.reason == "timeout"
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


def _cli_ask(llm: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m bot ask --json QUESTION`` with only these LLM settings, succeeded."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        **timetravel.child_env(),
        "LLM_MODEL": "test",
        "LANG": "C.UTF-8",
        **llm,
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
    return result


def test_cli_ask_uses_the_llm_when_configured(server: FakeLLMServer) -> None:
    server.script(Reply(content="More than $13 billion [1]."))
    payload = json.loads(_cli_ask({"LLM_BASE_URL": server.base_url}).stdout)
    assert payload["answer"].startswith("More than $13 billion [1][2].\nSources\n[1] ")
    assert payload["found"] is True and payload["citations"][0]["n"] == 1
    assert (payload["phrasing"], payload["phrasing_reason"]) == ("llm", None)
    assert len(server.requests) == 1


async def test_a_prompt_too_long_is_asked_again_with_fewer_facts(
    server: FakeLLMServer, phraser: Phraser, conversation: QuestionEngine, library: Library
) -> None:
    """llama.cpp's empty stream, then its 400 unstreamed: once more with the best fact only."""
    asked = conversation.ask(Who(9, "en"), QUESTION)
    assert len(asked.answer.fact_ids) == 3
    server.script(
        Reply(empty_stream=True),
        Reply.http_error(400, "Requested tokens exceed context", code="context_length_exceeded"),
        Reply(content="Microsoft has invested more than $13 billion in OpenAI [1]."),
    )
    phrased = await phraser.phrase(asked, library, translator("en"))
    assert phrased.reason == "llm"
    streamed, unstreamed, shrunk = server.requests
    assert (streamed.body["stream"], unstreamed.body["stream"], shrunk.body["stream"]) == (
        True,
        False,
        True,
    )
    prompt = shrunk.body["messages"][1]["content"]
    assert "[1] " in prompt and "[2] " not in prompt


async def test_a_model_the_server_lacks_is_reported_once_and_clears_when_fixed(
    server: FakeLLMServer,
    phraser: Phraser,
    conversation: QuestionEngine,
    library: Library,
    caplog: pytest.LogCaptureFixture,
) -> None:
    asked = conversation.ask(Who(10, "en"), QUESTION)
    server.models = frozenset({"another"})
    for _ in range(2):
        phrased = await phraser.phrase(asked, library, translator("en"))
        assert (phrased.reply, phrased.reason) == (None, "misconfigured")
    assert phraser.misconfigured == ("HTTP 404 (model_not_found): The model `test` does not exist")
    assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 1
    server.models = None
    assert (await phraser.phrase(asked, library, translator("en"))).reason == "llm"
    assert phraser.misconfigured is None


def test_cli_ask_json_says_why_the_llm_was_not_used() -> None:
    with FakeLLMServer.llama_cpp(api_key="sk-right") as llama:
        result = _cli_ask({"LLM_BASE_URL": llama.base_url, "LLM_API_KEY": "sk-wrong-key"})
    payload = json.loads(result.stdout)
    assert (payload["phrasing"], payload["phrasing_reason"]) == ("extract", "misconfigured")
    assert payload["answer"].startswith("More than $13 billion")
    assert "HTTP 401: Invalid API key" in result.stderr
    assert "sk-wrong-key" not in result.stderr + result.stdout


async def test_a_grounded_sentence_repeated_by_a_looping_model_is_said_once(
    server: FakeLLMServer, phraser: Phraser, conversation: QuestionEngine, library: Library
) -> None:
    """A model that ignores every length cap repeats one grounded sentence until our own cap
    stops it; the reader gets the sentence once."""
    asked = conversation.ask(Who(9, "en"), QUESTION)
    sentence = "Microsoft has invested more than $13 billion in OpenAI [1]."
    server.script(Reply(content=sentence + " ", ramble=True))
    phrased = await phraser.phrase(asked, library, translator("en"))
    assert phrased.reason == "llm" and phrased.reply is not None
    assert render_plain(phrased.reply).count("Microsoft has invested more than $13 billion") == 1
    assert server.requests[-1].body["max_tokens"] > 0, "the server was asked to stop"
