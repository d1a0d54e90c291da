"""The whole intake over real HTTP on 127.0.0.1 and a real newsroom.json."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path

from bot.newsroom.parsing import ParsedFeed, parse_feed
from bot.newsroom.relevance import Relevance
from bot.store.feeds import FeedStatusStore, SeenKeys
from tests.newsroom.conftest import INTERVAL, T0, Clock, running_intake, spec
from tests.support.feed_server import FeedItem, FeedServer, Route, atom, rss

DEAL_EN = FeedItem(
    "Microsoft and OpenAI sign a new definitive agreement",
    "https://news.example.com/2026/11/ms-openai-agreement?utm_source=rss&utm_medium=feed",
    "en-1",
    "<p>The deal gives Microsoft a stake of about 27 percent in OpenAI Group PBC.</p>",
    T0 - dt.timedelta(hours=2),
)
DEAL_FR = FeedItem(
    "OpenAI prépare son entrée en Bourse, Microsoft garde sa participation",
    "https://presse.example.fr/openai-bourse",
    "fr-1",
    "L'introduction en Bourse pourrait valoriser OpenAI à 1 000 milliards de dollars.",
)
XBOX_EN = FeedItem("Microsoft unveils a new Xbox controller", "https://news.example.com/xbox")
METEO_FR = FeedItem("Météo : un week-end pluvieux en Bretagne", "https://presse.example.fr/meteo")


async def test_relevant_items_in_either_language_become_candidates(
    server: FeedServer, tmp_path: Path, relevance: Relevance
) -> None:
    """An item naming the subject becomes a candidate with its matching lines; others not."""
    server.feed("/mixed.xml", rss([DEAL_EN, XBOX_EN, DEAL_FR, METEO_FR]))
    async with running_intake(
        tmp_path, [spec(server, "/mixed.xml", "Example News")], Clock(), relevance
    ) as (intake, store):
        report = await intake.poll_due()
        assert (report.polled, report.new_stories, report.errors) == (1, 2, 0)
        titles = {c.title: c for c in store.all()}
        assert set(titles) == {DEAL_EN.title, DEAL_FR.title}
        en = titles[DEAL_EN.title]
        assert en.links[0].url == "https://news.example.com/2026/11/ms-openai-agreement"
        assert en.links[0].outlet == "Example News"
        assert en.links[0].published == T0 - dt.timedelta(hours=2)
        assert en.first_seen == T0
        assert en.state == "new"
        assert "stake of about 27 percent" in en.text
        assert en.matched[0] == DEAL_EN.title
        assert any("27 percent" in line for line in en.matched)
        assert titles[DEAL_FR.title].matched[0] == DEAL_FR.title
        [status] = intake.statuses()
        assert (status.http_status, status.items, status.new_stories) == (200, 4, 2)
        assert status.next_poll == T0 + INTERVAL


async def test_one_story_from_five_outlets_is_one_candidate_with_five_links(
    server: FeedServer, tmp_path: Path, relevance: Relevance
) -> None:
    """Copies by canonical URL or near-identical headline add links; a new story does not."""
    copies = [
        ("/a.xml", "Outlet A", "Microsoft and OpenAI sign a new definitive agreement", "a"),
        ("/b.xml", "Outlet B", "Microsoft and OpenAI sign new definitive agreement - B", "b"),
        ("/c.xml", "Outlet C", "OpenAI and Microsoft sign a new definitive agreement", "c"),
        ("/d.xml", "Outlet D", "Microsoft and OpenAI sign a new definitive agreement | D", "d"),
        ("/e.xml", "Outlet E", "Microsoft, OpenAI sign a new definitive agreement", "e"),
    ]
    feeds = []
    for path, outlet, title, slug in copies:
        other = FeedItem(f"OpenAI files its S-1 for an IPO ({slug})", f"https://{slug}.ex/s1")
        server.feed(path, rss([FeedItem(title, f"https://{slug}.example/story?fbclid=x")]))
        feeds.append(spec(server, path, outlet))
        if slug == "a":
            server.feed(path, rss([FeedItem(title, "https://a.example/story"), other]))
    # The same URL again, from a sixth feed under another outlet name, with tracking added.
    server.feed("/f.xml", atom([FeedItem("Whatever", "https://www.a.example/story?utm_x=1")]))
    feeds.append(spec(server, "/f.xml", "Outlet A again"))
    async with running_intake(tmp_path, feeds, Clock(), relevance) as (intake, store):
        await intake.poll_due()
        story = next(c for c in store.all() if "agreement" in c.title)
        assert sorted(link.outlet for link in story.links) == [
            "Outlet A",
            "Outlet B",
            "Outlet C",
            "Outlet D",
            "Outlet E",
        ]
        assert len({link.url for link in story.links}) == 5
        assert [c.title for c in store.all() if "S-1" in c.title] == [
            "OpenAI files its S-1 for an IPO (a)"
        ]
        assert len(store.all()) == 2


async def test_an_unchanged_feed_is_asked_conditionally_and_answers_304(
    server: FeedServer, tmp_path: Path, relevance: Relevance
) -> None:
    """The second poll sends the validators back, gets a 304 and changes nothing."""
    server.feed("/f.xml", rss([DEAL_EN]))
    clock = Clock()
    async with running_intake(tmp_path, [spec(server, "/f.xml")], clock, relevance) as (
        intake,
        store,
    ):
        await intake.poll_due()
        assert (await intake.poll_due()).polled == 0, "not due again before its interval"
        clock.advance()
        report = await intake.poll_due()
        assert (report.polled, report.new_stories) == (1, 0)
        first, second = server.requests_to("/f.xml")
        assert "if-none-match" not in first.headers
        assert second.headers["if-none-match"].startswith('"')
        assert second.headers["if-modified-since"].endswith("GMT")
        assert second.answered == 304
        [status] = intake.statuses()
        assert status.http_status == 304 and status.error is None
        assert status.etag is not None, "a 304 keeps the validators for the next poll"
        assert status.next_poll == clock.now + INTERVAL
        assert len(store.all()) == 1


async def test_a_feed_that_renews_every_guid_makes_no_new_candidates(
    server: FeedServer, tmp_path: Path, relevance: Relevance
) -> None:
    """New guids on each fetch: the links and headlines say it is the same story."""

    def body(n: int) -> bytes:
        return rss(
            [
                FeedItem(DEAL_EN.title, DEAL_EN.link, f"guid-{n}-a", DEAL_EN.summary),
                FeedItem(XBOX_EN.title, XBOX_EN.link, f"guid-{n}-b"),
            ]
        )

    server.feed("/rotating.xml", body)
    clock = Clock()
    async with running_intake(tmp_path, [spec(server, "/rotating.xml")], clock, relevance) as (
        intake,
        store,
    ):
        await intake.poll_due()
        seen = len(SeenKeys(store.tables))
        for _ in range(3):
            clock.advance()
            assert (await intake.poll_due()).new_stories == 0
        assert [r.answered for r in server.requests_to("/rotating.xml")] == [200] * 4
        assert len(store.all()) == 1
        assert len(SeenKeys(store.tables)) == seen, "renewed guids are not kept"


async def test_candidates_and_feed_state_survive_a_restart(
    server: FeedServer, tmp_path: Path, relevance: Relevance
) -> None:
    """After a restart nothing is taken in twice and no feed is polled before it is due."""
    server.feed("/f.xml", rss([DEAL_EN, DEAL_FR]), conditional=False)
    clock = Clock()
    feeds = [spec(server, "/f.xml")]
    async with running_intake(tmp_path, feeds, clock, relevance) as (intake, _):
        await intake.poll_due()
    async with running_intake(tmp_path, feeds, clock, relevance) as (intake, store):
        assert (await intake.poll_due()).polled == 0
        clock.advance()
        report = await intake.poll_due()
        assert (report.polled, report.new_stories, report.new_links) == (1, 0, 0)
        assert len(store.all()) == 2
        assert intake.statuses()[0].new_stories == 2
    assert len((tmp_path / "newsroom.json").read_bytes()) > 0


async def test_the_faults_of_real_feeds_show_in_the_status_and_spare_the_rest(
    server: FeedServer, tmp_path: Path, relevance: Relevance
) -> None:
    """Malformed XML, HTML, 10 MB bodies, silence, redirects and 503s in one cycle: each feed
    says what went wrong, the good feed is read, nothing raises."""
    good = rss([DEAL_EN])
    server.feed("/good.xml", good)
    # A bare & in the channel title: not XML, read all the same.
    server.feed("/lenient.xml", rss([DEAL_FR]).replace(b"</title>", b" & co</title>", 1))
    server.feed("/broken.xml", b'<?xml version="1.0"?><rss version="2.0"><channel><item><ti')
    server.feed("/html", b"<!doctype html><html><body><h1>Sign in</h1></body></html>",
                content_type="text/html; charset=utf-8")  # fmt: skip
    server.route("/huge-declared.xml", Route(huge=10_000_000))
    server.route("/huge-chunked.xml", Route(huge=10_000_000, declare_length=False))
    server.route("/silent.xml", Route(stall=True))
    server.route("/moved.xml", Route(status=301, location="/good.xml"))
    server.route("/loop.xml", Route(status=302, location="/loop.xml"))
    server.route("/busy.xml", Route(status=503, headers={"Retry-After": "7200"}))
    paths = [
        "/good.xml", "/lenient.xml", "/broken.xml", "/html", "/huge-declared.xml",
        "/huge-chunked.xml", "/silent.xml", "/moved.xml", "/loop.xml", "/busy.xml",
    ]  # fmt: skip
    threads: list[str] = []

    def parse(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
        threads.append(threading.current_thread().name)
        return parse_feed(body, url, content_type)

    clock = Clock()
    async with running_intake(
        tmp_path,
        [spec(server, p) for p in paths],
        clock,
        relevance,
        deadline=3.0,  # the silent feed's; the others answer in milliseconds
        max_bytes=200_000,
        parse=parse,
    ) as (intake, store):
        poll = asyncio.ensure_future(intake.poll_due())
        beats = 0
        while not poll.done():  # the loop turns while feeds stall and stream
            await asyncio.sleep(0.01)
            beats += 1
        report = poll.result()
        assert beats > 0
        assert report.polled == len(paths)
        status = {s.url.rsplit("/", 1)[1]: s for s in intake.statuses()}
        assert status["good.xml"].error is None and status["good.xml"].new_stories == 1
        assert status["lenient.xml"].error is None and status["lenient.xml"].items == 1
        assert "not well-formed" in status["lenient.xml"].detail
        assert status["broken.xml"].error == "malformed"
        assert status["html"].error == "not_feed"
        assert status["huge-declared.xml"].error == "too_large"
        assert status["huge-chunked.xml"].error == "too_large"
        assert status["silent.xml"].error == "timeout"
        assert status["moved.xml"].error is None
        assert status["moved.xml"].moved_to == server.url("/good.xml")
        assert status["loop.xml"].error == "redirects"
        assert status["busy.xml"].error == "http" and status["busy.xml"].http_status == 503
        assert status["busy.xml"].backoff >= dt.timedelta(hours=2), "Retry-After is a floor"
        assert report.errors == 7
        for erring in (s for s in status.values() if s.error is not None):
            assert erring.errors == 1 and erring.next_poll is not None
            assert erring.next_poll > clock.now + INTERVAL
        assert threads and all(name != threading.main_thread().name for name in threads)
        assert {c.title for c in store.all()} == {DEAL_EN.title, DEAL_FR.title}
    # Dropped unread past the cap: ten megabytes were never taken in.
    assert server.bytes_sent < 10_000_000


async def test_errors_back_off_exponentially_and_a_success_resets(
    server: FeedServer, tmp_path: Path, relevance: Relevance
) -> None:
    """Each failure in a row doubles the wait; the first success polls at the interval."""
    server.route("/flaky.xml", Route(status=500))
    clock = Clock()
    async with running_intake(tmp_path, [spec(server, "/flaky.xml")], clock, relevance) as (
        intake,
        _,
    ):
        waits = []
        for _ in range(4):
            await intake.poll_due()
            [status] = intake.statuses()
            assert status.next_poll is not None
            waits.append(status.next_poll - clock.now)
            clock.now = status.next_poll
        assert waits == [INTERVAL * 2, INTERVAL * 4, INTERVAL * 8, INTERVAL * 16]
        assert intake.statuses()[0].errors == 4
        server.feed("/flaky.xml", rss([XBOX_EN]))
        await intake.poll_due()
        [status] = intake.statuses()
        assert (status.errors, status.error, status.backoff) == (0, None, dt.timedelta(0))
        assert status.next_poll == clock.now + INTERVAL


async def test_a_stop_request_ends_a_cycle_held_by_a_silent_feed(
    server: FeedServer, tmp_path: Path, relevance: Relevance
) -> None:
    """Shutdown does not wait for a feed's timeout."""
    server.route("/silent.xml", Route(stall=True))
    async with running_intake(
        tmp_path, [spec(server, "/silent.xml")], Clock(), relevance, deadline=60.0
    ) as (intake, store):
        poll = asyncio.ensure_future(intake.poll_due())
        for _ in range(500):  # the server's thread records the request
            if server.requests_to("/silent.xml"):
                break
            await asyncio.sleep(0.01)
        intake.request_stop()
        report = await asyncio.wait_for(poll, 5)
        assert report.polled == 0
        assert FeedStatusStore(store.tables).all() == []


async def test_an_irrelevant_looking_copy_seen_first_does_not_hide_the_story(
    server: FeedServer, tmp_path: Path, relevance: Relevance
) -> None:
    """A bare headline at the same URL, read first elsewhere, leaves the real item its say."""
    server.feed("/bare.xml", rss([FeedItem("Read more", DEAL_EN.link)]))
    server.feed("/full.xml", rss([DEAL_EN]))
    clock = Clock()
    async with running_intake(tmp_path, [spec(server, "/bare.xml")], clock, relevance) as (
        intake,
        store,
    ):
        assert (await intake.poll_due()).new_stories == 0
    feeds = [spec(server, "/bare.xml"), spec(server, "/full.xml", "Full")]
    async with running_intake(tmp_path, feeds, clock, relevance) as (intake, store):
        assert (await intake.poll_due()).new_stories == 1
        [story] = store.all()
        assert [link.outlet for link in story.links] == ["Full"]
