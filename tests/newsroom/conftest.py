"""The intake against feeds served over real HTTP, on a real newsroom.json."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.content.feeds import FeedSpec
from bot.content.lexicon import load_lexicon
from bot.content.loader import load_library
from bot.newsroom.fetch import new_client
from bot.newsroom.poller import Intake
from bot.newsroom.relevance import Relevance
from bot.store.candidates import CandidateStore
from tests.conftest import CONTENT
from tests.support.feed_server import FeedServer

T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)
INTERVAL = dt.timedelta(minutes=30)


class Clock:
    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, by: dt.timedelta = INTERVAL) -> None:
        self.now += by


@pytest.fixture(scope="session")
def relevance() -> Relevance:
    return Relevance.of(load_library(CONTENT), load_lexicon(CONTENT))


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


@asynccontextmanager
async def running_intake(
    data_dir: Path,
    feeds: Sequence[FeedSpec],
    clock: Clock,
    relevance: Relevance,
    *,
    deadline: float = 5.0,
    max_bytes: int = 1_000_000,
    **options: Any,
) -> AsyncIterator[tuple[Intake, CandidateStore]]:
    store = CandidateStore.open(data_dir)
    intake = Intake(
        feeds,
        store,
        new_client(deadline),
        clock,
        lambda: relevance,
        timeout=deadline,
        max_bytes=max_bytes,
        **options,
    )
    try:
        yield intake, store
    finally:
        await intake.aclose()
        store.close()


def spec(server: FeedServer, path: str, name: str | None = None) -> FeedSpec:
    return FeedSpec(name or path.strip("/"), server.url(path), INTERVAL)
