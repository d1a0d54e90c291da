"""With an LLM configured: drafts while it writes, one final cited message, other users served.

Both Telegram and the LLM are local doubles over real HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.tg.app import BotApplication
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
