"""With an LLM configured: drafts while it writes, one final cited message, other users served.

Both Telegram and the LLM are local doubles over real HTTP.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.tg.app import BotApplication
from bot.tg.health import readiness_problems, readiness_warnings
from tests.support.botapi_double import BotApiDouble
from tests.support.llm_server import FakeLLMServer, Reply
from tests.tg.conftest import polling, settings_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as running:
        yield running


@pytest.fixture
async def bot(
    double: BotApiDouble, llm: FakeLLMServer, tmp_path: Path
) -> AsyncIterator[BotApplication]:
    settings = settings_for(
        double, tmp_path / "data", llm_base_url=llm.base_url, llm_model="test", llm_deadline=5.0
    )
    async with polling(settings) as app:
        yield app


async def test_private_question_streams_drafts_then_one_final_message(
    double: BotApiDouble, llm: FakeLLMServer, bot: BotApplication
) -> None:
    llm.script(
        Reply(
            content="Microsoft has invested more than $13 billion in OpenAI [1].",
            chunks=4,
            chunk_delay=0.4,
        )
    )
    double.send_text(50, "How much has Microsoft invested in OpenAI?", language_code="en")
    [final] = await double.await_messages(50, 1, timeout=10)
    assert final.plain_text.startswith("Microsoft has invested more than $13 billion")
    assert "[1][2]" in final.plain_text and "Sources" in final.plain_text
    assert double.drafts(50), "the answer was shown as a draft while it was written"
    assert [c for c in double.calls() if not c.ok] == []


async def test_ungrounded_llm_answer_gives_the_extract(
    double: BotApiDouble, llm: FakeLLMServer, bot: BotApplication
) -> None:
    llm.script(Reply(content="Microsoft owns 75% of OpenAI [1]."))
    double.send_text(51, "How much has Microsoft invested in OpenAI?", language_code="en")
    [final] = await double.await_messages(51, 1, timeout=10)
    assert final.plain_text.startswith("More than $13 billion, according to Financial Times")
    assert "75" not in final.plain_text


async def test_group_progress_is_an_edited_placeholder_removed_at_the_end(
    double: BotApiDouble, llm: FakeLLMServer, bot: BotApplication
) -> None:
    llm.script(Reply(content="More than $13 billion [1].", chunks=3, chunk_delay=0.6))
    double.send_text(
        52,
        "/ask How much has Microsoft invested in OpenAI?",
        chat_id=-100,
        chat_type="group",
        language_code="en",
    )
    await double.await_for(
        lambda d: any("Sources" in m.plain_text for m in d.messages(-100)), timeout=10
    )
    visible = double.messages(-100)
    assert len(visible) == 1 and visible[0].plain_text.startswith("More than $13 billion")
    assert double.calls("deleteMessage"), "the progress placeholder was removed"


async def test_a_slow_llm_does_not_hold_up_other_users(
    double: BotApiDouble, llm: FakeLLMServer, bot: BotApplication
) -> None:
    llm.script(Reply(content="More than $13 billion [1].", stall=2.0))
    double.send_text(53, "How much has Microsoft invested in OpenAI?", language_code="en")
    await double.await_for(lambda _: llm.pending == 0)  # the slow request has begun
    double.send_text(54, "/start", language_code="fr")
    [welcome] = await double.await_messages(54, 1, timeout=5)
    assert welcome.plain_text.startswith("Bonjour")
    assert double.messages(53) == [], "the slow answer is still being written"
    await double.await_messages(53, 1, timeout=10)


# A model that starts well, then invents: the first sentence says what fact [1] says, the second
# a purchase no fact holds.
GOOD = "Microsoft has invested more than $13 billion in OpenAI [1]."
INVENTED = "Microsoft also bought Anthropic for $90 billion last year [1]."


def _everything_shown(double: BotApiDouble, chat_id: int) -> list[str]:
    """Every text that reached the Bot API for a chat: drafts, messages, each edit."""
    shown = [d.text for d in double.drafts(chat_id)]
    for message in double.messages(chat_id, include_deleted=True):
        shown += [m.text for m in (*message.history, message)]
    shown += [
        str(c.params.get("text", ""))
        for c in double.calls()
        if c.method in ("sendMessage", "editMessageText", "sendMessageDraft")
        and str(c.params.get("chat_id")) == str(chat_id)
    ]
    return shown


@pytest.mark.parametrize("group", [False, True], ids=["private draft", "group placeholder"])
async def test_an_answer_that_starts_well_then_invents_never_shows_the_invention(
    double: BotApiDouble, llm: FakeLLMServer, bot: BotApplication, group: bool
) -> None:
    llm.script(Reply(content=f"{GOOD} {INVENTED} More to come [1].", chunks=30, chunk_delay=0.12))
    user, chat = (60, -160) if group else (61, 61)
    asked_at = time.monotonic()
    double.send_text(
        user,
        ("/ask " if group else "") + "How much has Microsoft invested in OpenAI?",
        chat_id=chat,
        chat_type="group" if group else "private",
        language_code="en",
    )
    await double.await_for(
        lambda d: any("Sources" in m.plain_text for m in d.messages(chat)), timeout=10
    )
    shown = _everything_shown(double, chat)
    assert not [text for text in shown if "Anthropic" in text or "90" in text]
    # The first reply came at once, and it was a note, not model text.
    first = min(
        c.time
        for c in double.calls()
        if c.method in ("sendMessage", "sendMessageDraft")
        and str(c.params.get("chat_id")) == str(chat)
    )
    assert first - asked_at < 1.0
    assert shown[0].startswith("Rephrasing the sourced answer")
    # The sentence that passed the guard was shown while the model wrote, cited as sources.
    assert any(text.startswith("Microsoft has invested more than $13 billion") for text in shown)
    [final] = double.messages(chat)
    assert final.plain_text.startswith("More than $13 billion, according to Financial Times")


async def test_a_wrong_api_key_is_a_configuration_error_in_stats_and_readyz(
    double: BotApiDouble, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """FastAPI's 401 from llama.cpp's server: the extract, one clear log line, /stats, /readyz."""
    key = "sk-wrong-0123456789"
    with FakeLLMServer.llama_cpp(api_key="sk-right") as llm:
        settings = settings_for(
            double,
            tmp_path / "data",
            llm_base_url=llm.base_url,
            llm_model="test",
            llm_api_key=key,
            admin_ids=frozenset({70}),
        )
        async with polling(settings) as app:
            for _ in range(2):
                double.send_text(70, "How much has Microsoft invested in OpenAI?")
            await double.await_for(lambda d: len(d.messages(70)) == 2, timeout=10)
            assert all(
                m.plain_text.startswith("More than $13 billion") for m in double.messages(70)
            )
            # Visible to the operator, but the bot still serves (extracts): still ready.
            assert readiness_warnings(app) == ["LLM misconfigured: HTTP 401: Invalid API key"]
            assert await readiness_problems(app) == []
            double.send_text(70, "/stats")
            [*_, stats] = await double.await_messages(70, 3, timeout=10)
            assert "LLM misconfigured: HTTP 401: Invalid API key" in stats.plain_text
            assert "LLM fallbacks: 2" in stats.plain_text
    errors = [r for r in caplog.records if "misconfigured" in r.getMessage()]
    assert len(errors) == 1 and errors[0].levelname == "ERROR", "logged once, clearly"
    assert key not in caplog.text
