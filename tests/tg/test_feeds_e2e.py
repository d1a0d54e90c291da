"""/feeds over real HTTP: the poller job reads local feeds, an admin reads their status."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store.candidates import CandidateStore
from tests.support.botapi_double import BotApiDouble
from tests.support.feed_server import FeedItem, FeedServer, rss
from tests.tg.conftest import assert_all_accepted, polling, settings_for

pytestmark = pytest.mark.e2e
ADMIN = 4000
STORY = FeedItem(
    "Microsoft and OpenAI sign a new definitive agreement",
    "https://news.example.com/ms-openai",
    "g-1",
    "Microsoft keeps a stake of about 27 percent.",
)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.feed("/news.xml", rss([STORY, FeedItem("Xbox news", "https://x.example/x")]))
        server.feed("/login", b"<html><body>Sign in</body></html>", content_type="text/html")
        yield server


async def test_the_admin_reads_each_feeds_status_in_their_language(
    double: BotApiDouble, feeds: FeedServer, tmp_path: Path
) -> None:
    """The job polls at start; /feeds lists each feed, answers in FR or EN, admins only."""
    settings = settings_for(
        double,
        tmp_path / "data",
        admin_ids=frozenset({ADMIN}),
        newsroom=True,
        feeds=(feeds.url("/news.xml"), feeds.url("/login")),
        feed_timeout=5.0,
    )
    async with polling(settings) as app:
        services = app.bot_data.require_services()
        assert services.intake is not None
        for _ in range(500):  # the job's first tick is a second after the start
            if all(s.last_fetch is not None for s in services.intake.statuses()):
                break
            await asyncio.sleep(0.02)
        double.send_text(ADMIN, "/feeds", language_code="en")
        [reply] = await double.await_messages(ADMIN, 1)
        text = reply.plain_text
        assert "2 feeds, 1 failing; 1 candidates waiting for review." in text
        assert feeds.url("/news.xml") in text and feeds.url("/login") in text
        assert "HTTP 200; 2 items in the feed." in text
        assert "New stories from this feed: 1." in text
        assert "Error: not a feed (an HTML page?)" in text
        assert "Backing off 30 minutes after errors." in text
        double.send_text(ADMIN, "/feeds", language_code="fr")
        double.send_text(ADMIN, "/lang fr", language_code="fr")
        await double.await_messages(ADMIN, 3)
        double.send_text(ADMIN, "/feeds", language_code="fr")
        french = (await double.await_messages(ADMIN, 4))[-1].plain_text
        assert "2 flux, 1 en échec ; 1 sujets en attente de relecture." in french
        assert "Erreur : pas un flux (une page HTML ?)" in french
        assert "Dernière lecture" in french
        double.send_text(5, "/feeds", language_code="en")
        [refused] = await double.await_messages(5, 1)
        assert "I don't know the command" in refused.plain_text
        assert_all_accepted(double)
    store = CandidateStore.open(tmp_path / "data")
    assert [c.title for c in store.all()] == [STORY.title]
    store.close()


async def test_without_the_newsroom_no_feed_is_polled(
    double: BotApiDouble, feeds: FeedServer, tmp_path: Path
) -> None:
    """Off by default: no job, no request, and /feeds says how to turn it on."""
    settings = settings_for(double, tmp_path / "data", admin_ids=frozenset({ADMIN}))
    async with polling(settings) as app:
        assert app.job_queue is not None
        assert app.job_queue.get_jobs_by_name("feed-poll") == ()
        double.send_text(ADMIN, "/feeds", language_code="en")
        [reply] = await double.await_messages(ADMIN, 1)
        assert "The newsroom is off" in reply.plain_text
    assert feeds.requests == []
