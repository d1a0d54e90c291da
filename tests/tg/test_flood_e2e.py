"""A user sending 100 messages in a few seconds gets one "slow down"; others are still served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.tg.app import BotApplication, build_application
from tests.conftest import CONTENT
from tests.support.botapi_double import BotApiDouble

pytestmark = pytest.mark.e2e


@pytest.fixture
def double() -> Iterator[BotApiDouble]:
    with BotApiDouble() as running:
        yield running


@pytest.fixture
async def bot(double: BotApiDouble, tmp_path: Path) -> AsyncIterator[BotApplication]:
    settings = Settings(
        telegram_token=double.token,
        telegram_api_base_url=double.base_url,
        data_dir=tmp_path / "data",
        content_dir=CONTENT,
    )
    app = build_application(settings)
    await app.initialize()
    assert app.post_init is not None and app.updater is not None
    await app.post_init(app)
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    await app.start()
    yield app
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    assert app.post_shutdown is not None
    await app.post_shutdown(app)


async def test_flooding_user_is_told_once_and_others_are_served(
    double: BotApiDouble, bot: BotApplication
) -> None:
    for _ in range(100):
        double.send_text(66, "/help", language_code="en")
    double.send_text(67, "/start", language_code="fr")
    await double.await_for(lambda d: len(d.messages(67)) == 1, timeout=15)
    await double.await_for(lambda d: len(d.messages(66)) >= 21, timeout=15)
    await asyncio.sleep(0.5)  # any reply beyond the 21st would have arrived by now
    texts = [m.plain_text for m in double.messages(66)]
    slow_down = [t for t in texts if "too fast" in t]
    assert len(slow_down) == 1
    assert len(texts) == 21, "20 answered, one warning, the rest ignored"
