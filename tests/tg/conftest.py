"""Shared end-to-end fixtures: the Bot API double, and the real application long-polling it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.request import BaseRequest

from bot.config import Settings
from bot.core.clock import system_clock
from bot.tg.app import BotApplication, build_application
from tests.conftest import CONTENT
from tests.support.botapi_double import BotApiDouble


@pytest.fixture
def double() -> Iterator[BotApiDouble]:
    with BotApiDouble() as running:
        yield running


def settings_for(double: BotApiDouble, data_dir: Path, **overrides: Any) -> Settings:
    """Settings pointing the bot at the double, with a data directory of the test's own."""
    return Settings(
        telegram_token=double.token,
        telegram_api_base_url=double.base_url,
        data_dir=data_dir,
        content_dir=CONTENT,
        **overrides,
    )


@pytest.fixture
async def polling_bot(double: BotApiDouble, tmp_path: Path) -> AsyncIterator[BotApplication]:
    """The application long-polling the double, on a data directory of the test's own."""
    async with polling(settings_for(double, tmp_path / "data")) as app:
        yield app


def assert_all_accepted(double: BotApiDouble) -> None:
    """Every call the bot made was one Telegram would accept."""
    refused = [c for c in double.calls() if not c.ok]
    assert refused == [], [(c.method, c.description) for c in refused]


class Clock:
    """A clock the test sets: the services read the time from it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@asynccontextmanager
async def polling(
    settings: Settings,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    poll_timeout: float = 1,
) -> AsyncIterator[BotApplication]:
    """The application as run_polling runs it (post_init included), stopped on exit."""
    app = build_application(
        settings,
        clock=clock or system_clock,
        request=request,
        get_updates_request=get_updates_request,
    )
    await app.initialize()
    assert app.post_init is not None and app.updater is not None
    await app.post_init(app)
    # As in production: every update type, reactions and member changes too.
    await app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=Update.ALL_TYPES)
    await app.start()
    try:
        yield app
    finally:
        await stop_application(app)


async def stop_application(app: BotApplication) -> None:
    """Stop what ``polling`` (or a test's own start) started, as run_polling stops it."""
    assert app.updater is not None and app.post_shutdown is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    await app.post_shutdown(app)
