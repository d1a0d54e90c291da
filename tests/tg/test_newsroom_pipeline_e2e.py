"""The whole newsroom path over real HTTP: a local feed publishes an item revising a figure,
the poll job takes it in, the editor reviews it in Telegram (guided, or drafted by the model
against the local OpenAI-compatible double), approves it as an update of the older fact, a
subscriber's digest carries it in their language, and exactly the readers who had been told
the old figure get one correction each, across restarts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core.candidates import Candidate
from bot.tg.app import BotApplication
from tests.support.botapi_double import BotApiDouble, SentMessage
from tests.support.feed_server import FeedItem, FeedServer, rss
from tests.support.llm_server import FakeLLMServer, Reply
from tests.tg.conftest import Clock, polling, settings_for

pytestmark = pytest.mark.e2e
EDITOR = 4200
OLD = "stakes-microsoft-invested-over-13bn"
READ_BRIEFING, READ_ANSWER, READ_CARD, READ_OTHER, SUBSCRIBER = 61, 62, 63, 64, 65
AT = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)  # after every content date
DELIVERY = dt.datetime(2026, 12, 3, 6, 30, 20, tzinfo=dt.UTC)  # 07:30:20 in Paris
FEED = "/ft.xml"
UNRELATED = FeedItem(
    "Microsoft unveils a new Xbox controller",
    "https://www.ft.com/content/xbox-controller",
    "ft-xbox",
    "The controller ships in the spring.",
    AT - dt.timedelta(days=1),
)
STORY = FeedItem(
    "Microsoft has now invested $15 billion in OpenAI",
    "https://www.ft.com/content/microsoft-openai-15bn?utm_source=rss",
    "ft-15bn",
    "Microsoft has invested $15 billion in OpenAI so far, the Financial Times reported. "
    "The stake is part of a renegotiated partnership.",
    AT - dt.timedelta(hours=2),
)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.feed(FEED, rss([UNRELATED], "Financial Times"))
        yield server


@asynccontextmanager
async def running(settings: Settings, clock: Clock) -> AsyncIterator[BotApplication]:
    """The application, with its repeating jobs paused so that the test runs them itself at
    the clock's time (no real minute goes by)."""
    async with polling(settings, clock=clock) as app:
        assert app.job_queue is not None
        for name in ("feed-poll", "digest-sweep"):
            [job] = app.job_queue.get_jobs_by_name(name)
            job.enabled = False
        yield app


async def run_job(app: BotApplication, name: str) -> None:
    assert app.job_queue is not None
    [job] = app.job_queue.get_jobs_by_name(name)
    await job.run(app)


def waiting(app: BotApplication) -> list[Candidate]:
    return app.bot_data.require_services().candidates.queue()


async def editor_says(double: BotApiDouble, text: str, count: int) -> SentMessage:
    double.send_text(EDITOR, text, language_code="en")
    return (await double.await_messages(EDITOR, count))[-1]


async def press(double: BotApiDouble, message: SentMessage, data: str, count: int) -> SentMessage:
    double.press_button(EDITOR, message.message_id, data, language_code="en")
    return (await double.await_messages(EDITOR, count))[-1]


async def readers_learn_the_old_figure(double: BotApiDouble, *, answer: bool) -> None:
    """A briefing, an answer (or a fact card), and readers who never see the old figure."""
    double.send_text(READ_BRIEFING, "/brief stakes", language_code="en")
    if answer:
        double.send_text(
            READ_ANSWER, "Combien Microsoft a-t-il investi dans OpenAI ?", language_code="fr"
        )
    else:
        double.send_text(READ_CARD, f"/start fact_{OLD}", language_code="fr")
    double.send_text(READ_OTHER, "/brief revenue", language_code="en")
    double.send_text(SUBSCRIBER, "/subscribe 07:30 Europe/Paris", language_code="fr")
    told = READ_ANSWER if answer else READ_CARD
    for chat in (READ_BRIEFING, told, READ_OTHER, SUBSCRIBER):
        await double.await_messages(chat, 1)
    assert "$13 billion" in double.messages(READ_BRIEFING)[0].plain_text
    assert "13 milliards" in double.messages(told)[0].plain_text
    assert "13" not in double.messages(READ_OTHER)[0].plain_text.split("Sources")[0]


async def the_feed_publishes_and_the_job_takes_it_in(
    app: BotApplication, feeds: FeedServer, clock: Clock
) -> Candidate:
    await run_job(app, "feed-poll")
    assert len(feeds.requests_to(FEED)) == 1
    assert waiting(app) == [], "an Xbox story is not news for us"
    feeds.feed(FEED, rss([STORY, UNRELATED], "Financial Times"))
    await run_job(app, "feed-poll")
    assert len(feeds.requests_to(FEED)) == 1, "not due yet: the feed's interval has not passed"
    clock.now += dt.timedelta(minutes=31)
    await run_job(app, "feed-poll")
    assert len(feeds.requests_to(FEED)) == 2
    [candidate] = waiting(app)
    assert candidate.title == STORY.title
    assert [link.url for link in candidate.links] == [
        "https://ft.com/content/microsoft-openai-15bn"
    ], "the tracking parameter is dropped"
    return candidate


async def exactly_the_told_readers_are_corrected(
    double: BotApiDouble, told_fr: int, fact_id: str
) -> None:
    await double.await_for(
        lambda d: any(
            f"Corrections for {fact_id} finished" in m.plain_text for m in d.messages(EDITOR)
        )
    )
    [_, note_en] = double.messages(READ_BRIEFING)
    assert note_en.plain_text.startswith("Correction")
    assert "You were told: Microsoft has invested more than $13 billion" in note_en.plain_text
    assert "Now known: Microsoft has invested $15 billion in OpenAI" in note_en.plain_text
    assert "ft.com/content/microsoft-openai-15bn" in note_en.plain_text
    [_, note_fr] = double.messages(told_fr)
    assert note_fr.plain_text.startswith("Correction")
    assert "On vous avait dit" in note_fr.plain_text
    assert "15 milliards de dollars" in note_fr.plain_text
    assert len(double.messages(READ_OTHER)) == 1, "never told the old figure: no note"
    assert len(double.messages(SUBSCRIBER)) == 1, "subscribed, never told it: no note"


async def the_digest_carries_it_in_french(app: BotApplication, clock: Clock) -> None:
    clock.now = DELIVERY
    await run_job(app, "digest-sweep")


def assert_all_accepted_across_restarts(double: BotApiDouble) -> None:
    """Every call Telegram would accept, but the long poll a stopping instance still had open
    when the next one started (Telegram ends it with 409 Conflict too)."""
    refused = [
        (c.method, c.description)
        for c in double.calls()
        if not c.ok and not (c.method == "getUpdates" and "Conflict" in (c.description or ""))
    ]
    assert refused == []


def counts(double: BotApiDouble) -> dict[int, int]:
    chats = (EDITOR, READ_BRIEFING, READ_ANSWER, READ_CARD, READ_OTHER, SUBSCRIBER)
    return {chat: len(double.messages(chat)) for chat in chats}


async def test_a_feed_item_reviewed_step_by_step_reaches_digests_and_corrects_its_readers(
    double: BotApiDouble, feeds: FeedServer, tmp_path: Path
) -> None:
    """Feed → poll job → /queue → guided draft (a restart in the middle) → approval as an
    update → French digest → one note to each reader of the old figure, none resent."""
    clock = Clock(AT)
    settings = settings_for(
        double,
        tmp_path / "data",
        admin_ids=frozenset({EDITOR}),
        feeds=(feeds.url(FEED),),
        newsroom=True,
        feed_timeout=5.0,
    )
    async with running(settings, clock) as app:
        await readers_learn_the_old_figure(double, answer=True)
        candidate = await the_feed_publishes_and_the_job_takes_it_in(app, feeds, clock)
        card = await editor_says(double, "/queue", 1)
        assert STORY.title in card.plain_text and "Financial Times" in card.plain_text
        links = await press(double, card, f"v1:nr:links:{candidate.id}", 2)
        assert links.inline_keyboard == [
            [{"text": "1. 127.0.0.1", "url": "https://ft.com/content/microsoft-openai-15bn"}]
        ], "each outlet's link is a button that opens it"
        topic = await press(double, card, f"v1:nr:draft:{candidate.id}", 3)
        assert "Which topic is it?" in topic.plain_text
        status = await press(double, topic, "v1:nr:topic:stakes", 4)
        english = await press(double, status, "v1:nr:status:reported", 5)
        assert "English text" in english.plain_text
        french = await editor_says(
            double,
            "Microsoft has invested {invested} in OpenAI, according to the Financial Times.",
            6,
        )
        assert "French text" in french.plain_text

    # A restart in the middle of the draft: it goes on where it was, and polling the same
    # feed again makes no second candidate.
    async with running(settings, clock) as app:
        clock.now += dt.timedelta(minutes=31)
        await run_job(app, "feed-poll")
        assert len(feeds.requests_to(FEED)) == 3
        services = app.bot_data.require_services()
        assert [c.id for c in services.candidates.all()] == [candidate.id]
        figure = await editor_says(
            double, "Selon le Financial Times, Microsoft a investi {invested} dans OpenAI.", 7
        )
        assert "{invested}" in figure.plain_text
        preview = await editor_says(double, "money 15 billion USD", 8)
        assert "EN: Microsoft has invested $15 billion in OpenAI" in preview.plain_text
        older = await press(double, preview, "v1:nr:older:list", 9)
        draft = services.editorial.draft(EDITOR)
        assert draft is not None and OLD in draft.matches
        fate = await press(double, older, f"v1:nr:match:{draft.matches.index(OLD)}", 10)
        preview = await press(double, fate, "v1:nr:fate:superseded", 11)
        assert "It becomes superseded." in preview.plain_text
        approved = await press(double, preview, f"v1:nr:ok:{candidate.id}", 12)
        fact_id = f"stakes-news-{candidate.id}"
        assert f"Approved as {fact_id}." in approved.plain_text
        assert "Readers owed a correction: 2." in approved.plain_text
        await exactly_the_told_readers_are_corrected(double, READ_ANSWER, fact_id)

        await the_digest_carries_it_in_french(app, clock)
        digest = (await double.await_messages(SUBSCRIBER, 2))[-1]
        assert "Microsoft a investi 15 milliards de dollars dans OpenAI" in digest.plain_text
        assert "Révisé : de 13 milliards de dollars à 15 milliards de dollars." in (
            digest.plain_text
        )
        before = counts(double)

    # Another restart: polling, the digest sweep and resumed runs send nobody anything more.
    async with running(settings, clock) as app:
        clock.now += dt.timedelta(minutes=31)
        await run_job(app, "feed-poll")
        await run_job(app, "digest-sweep")
        services = app.bot_data.require_services()
        assert services.corrections.running() == []
        assert len(services.candidates.all()) == 1
        assert services.library().facts[OLD].status.value == "superseded"
        assert counts(double) == before
        assert_all_accepted_across_restarts(double)


def draft_json(amount: float) -> str:
    return json.dumps(
        {
            "topic": "stakes",
            "status": "reported",
            "text_en": "Microsoft has invested {invested} in OpenAI so far, the Financial "
            "Times reported.",
            "text_fr": "Microsoft a investi {invested} dans OpenAI à ce jour, selon le "
            "Financial Times.",
            "figures": {"invested": {"kind": "money", "amount": amount, "currency": "USD"}},
        }
    )


@pytest.fixture
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


async def test_a_feed_item_drafted_by_the_model_is_approved_and_corrects_its_readers(
    double: BotApiDouble, feeds: FeedServer, llm: FakeLLMServer, tmp_path: Path
) -> None:
    """The same path with the LLM's draft: an invented number is refused and the editor writes
    it; the next item's grounded draft goes straight to the preview and is approved."""
    clock = Clock(AT)
    settings = settings_for(
        double,
        tmp_path / "data",
        admin_ids=frozenset({EDITOR}),
        feeds=(feeds.url(FEED),),
        newsroom=True,
        feed_timeout=5.0,
        llm_base_url=llm.base_url,
        llm_model="drafter",
    )
    async with running(settings, clock) as app:
        await readers_learn_the_old_figure(double, answer=False)
        candidate = await the_feed_publishes_and_the_job_takes_it_in(app, feeds, clock)
        # First the model invents a figure: refused, the guided questions take over.
        llm.script(Reply(content=draft_json(40_000_000_000)))
        card = await editor_says(double, "/queue", 1)
        refused = await press(double, card, f"v1:nr:draft:{candidate.id}", 2)
        assert "the number" in refused.plain_text and "is not in the item" in refused.plain_text
        assert "Which topic is it?" in refused.plain_text
        [request] = llm.requests
        assert "so far, the Financial Times reported" in json.dumps(request.body["messages"])
        # Put back for later and drafted again: this time the model's draft is grounded.
        dropped = await press(double, card, f"v1:nr:later:{candidate.id}", 3)
        assert STORY.title in dropped.plain_text
        llm.script(Reply(content="```json\n" + draft_json(15_000_000_000) + "\n```"))
        preview = await press(double, dropped, f"v1:nr:draft:{candidate.id}", 4)
        assert "Drafted by the model" in preview.plain_text
        assert "EN: Microsoft has invested $15 billion in OpenAI so far" in preview.plain_text
        assert "FR : Microsoft a investi 15 milliards de dollars dans OpenAI" in (
            preview.plain_text
        )
        # The editor corrects the model's status from the preview, and is back at it.
        status = await press(double, preview, "v1:nr:edit:status", 5)
        assert "What is its status?" in status.plain_text
        preview = await press(double, status, "v1:nr:status:confirmed", 6)
        assert "Status: confirmed" in preview.plain_text and "Draft for review" in (
            preview.plain_text
        )
        older = await press(double, preview, "v1:nr:older:list", 7)
        draft = app.bot_data.require_services().editorial.draft(EDITOR)
        assert draft is not None and OLD in draft.matches
        fate = await press(double, older, f"v1:nr:match:{draft.matches.index(OLD)}", 8)
        preview = await press(double, fate, "v1:nr:fate:superseded", 9)
        approved = await press(double, preview, f"v1:nr:ok:{candidate.id}", 10)
        fact_id = f"stakes-news-{candidate.id}"
        assert "Readers owed a correction: 2." in approved.plain_text
        await exactly_the_told_readers_are_corrected(double, READ_CARD, fact_id)
        await the_digest_carries_it_in_french(app, clock)
        digest = (await double.await_messages(SUBSCRIBER, 2))[-1]
        assert "Microsoft a investi 15 milliards de dollars dans OpenAI" in digest.plain_text
        before = counts(double)

    async with running(settings, clock) as app:
        await run_job(app, "digest-sweep")
        assert app.bot_data.require_services().corrections.running() == []
        assert counts(double) == before
        assert_all_accepted_across_restarts(double)
