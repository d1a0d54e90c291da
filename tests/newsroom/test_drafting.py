"""LLM drafting against the local OpenAI-compatible double: a draft grounded in the item goes
to the preview; one that invents a number is refused and the editor is told which."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.content.loader import load_library
from bot.core.candidates import Candidate, Link
from bot.core.domain import Who
from bot.core.editorial import merge_library
from bot.i18n.translator import translator
from bot.newsroom.drafting import DraftRefused, LLMDrafter
from bot.newsroom.review import Review
from bot.qa.grounding import unsupported_numbers
from bot.qa.llm_client import ChatClient, LLMSettings
from bot.store.candidates import CandidateStore
from bot.store.editorial import EditorialStore
from tests.conftest import CONTENT
from tests.support.llm_server import FakeLLMServer, Reply

NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)
ITEM = Candidate(
    id="c1",
    title="OpenAI signs a $38 billion deal with Amazon Web Services",
    text="OpenAI will buy $38 billion of computing capacity from AWS over seven years, "
    "Amazon announced on November 3, 2025.",
    links=(Link("https://www.aboutamazon.com/news/aws-openai", "Amazon"),),
    first_seen=NOW,
)


def draft_json(amount: float, **extra: Any) -> str:
    return json.dumps(
        {
            "topic": "infrastructure",
            "status": "announced",
            "text_en": "Amazon says OpenAI will buy {amount} of AWS computing capacity.",
            "text_fr": "Selon Amazon, OpenAI achètera pour {amount} de capacité de calcul à AWS.",
            "figures": {"amount": {"kind": "money", "amount": amount, "currency": "USD"}},
            **extra,
        }
    )


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as running:
        yield running


@pytest.fixture
async def drafter(server: FakeLLMServer) -> AsyncIterator[LLMDrafter]:
    settings = LLMSettings(base_url=server.base_url, model="m", deadline=5, max_retries=0)
    async with ChatClient.new_http_client(settings) as http:
        assert isinstance(http, httpx.AsyncClient)
        yield LLMDrafter(ChatClient(settings, http, clock=lambda: NOW), unsupported_numbers)


async def test_a_grounded_draft_is_proposed_from_the_item_text_only(
    server: FakeLLMServer, drafter: LLMDrafter
) -> None:
    server.script(Reply(content="```json\n" + draft_json(38_000_000_000) + "\n```"))
    proposal = await drafter.draft(ITEM)
    assert proposal.topic == "infrastructure" and proposal.status == "announced"
    assert proposal.figures[0].value == 38_000_000_000
    [request] = server.requests
    sent = json.dumps(request.body["messages"])
    assert "seven years" in sent, "the model is given the item's text"
    assert "13 billion" not in sent, "and nothing of the fact store"


async def test_a_draft_that_invents_a_number_is_refused_with_the_number(
    server: FakeLLMServer, drafter: LLMDrafter
) -> None:
    server.script(Reply(content=draft_json(40_000_000_000)))
    with pytest.raises(DraftRefused) as refused:
        await drafter.draft(ITEM)
    assert refused.value.kind == "invented"
    assert refused.value.detail == "40"


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ("I think OpenAI bought something.", "invalid"),
        (draft_json(38_000_000_000, text_en="OpenAI will buy 38 billion dollars."), "digits"),
    ],
)
async def test_prose_or_digits_in_the_text_are_refused(
    server: FakeLLMServer, drafter: LLMDrafter, content: str, kind: str
) -> None:
    server.script(Reply(content=content))
    with pytest.raises(DraftRefused) as refused:
        await drafter.draft(ITEM)
    assert refused.value.kind == kind


async def test_a_model_that_fails_leaves_the_editor_to_write_it(
    server: FakeLLMServer, drafter: LLMDrafter
) -> None:
    server.script(Reply.http_error(500))
    with pytest.raises(DraftRefused) as refused:
        await drafter.draft(ITEM)
    assert refused.value.kind == "unavailable"


def _review(tmp_path: Path, drafter: LLMDrafter) -> tuple[Review, EditorialStore]:
    candidates = CandidateStore.open(tmp_path)
    candidates.put(ITEM)
    editorial = EditorialStore.open(tmp_path)
    library = merge_library(load_library(CONTENT), [])
    review = Review(
        candidates,
        editorial,
        lambda: library,
        lambda: NOW,
        matches=lambda text, lang: (),
        publish=lambda approved: None,
        drafter=drafter,
    )
    return review, editorial


async def test_the_editor_sees_the_models_draft_in_both_languages(
    server: FakeLLMServer, drafter: LLMDrafter, tmp_path: Path
) -> None:
    server.script(Reply(content=draft_json(38_000_000_000)))
    review, editorial = _review(tmp_path, drafter)
    result = await review.press(translator("en"), Who(9), "draft", "c1")
    text = "\n".join(b.text for b in result.reply.blocks)
    assert "EN: Amazon says OpenAI will buy $38 billion of AWS computing capacity." in text
    assert "FR : Selon Amazon, OpenAI achètera pour 38 milliards de dollars" in text
    assert "every number was checked" in text
    draft = editorial.draft(9)
    assert draft is not None and draft.step == "preview" and draft.by_model


async def test_the_editor_is_told_why_an_invented_draft_was_refused(
    server: FakeLLMServer, drafter: LLMDrafter, tmp_path: Path
) -> None:
    server.script(Reply(content=draft_json(40_000_000_000)))
    review, editorial = _review(tmp_path, drafter)
    result = await review.press(translator("fr"), Who(9), "draft", "c1")
    text = "\n".join(b.text for b in result.reply.blocks)
    assert "le nombre 40 ne figure pas dans l'article" in text
    assert "De quel thème s'agit-il ?" in text, "the guided conversation takes over"
    draft = editorial.draft(9)
    assert draft is not None and draft.step == "topic" and not draft.by_model
