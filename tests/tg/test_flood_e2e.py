"""A user sending 100 messages in a few seconds gets one "slow down"; others are still served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.tg.app import BotApplication
from tests.support.botapi_double import BotApiDouble
from tests.tg.conftest import polling, settings_for

pytestmark = pytest.mark.e2e


@pytest.fixture
async def bot(double: BotApiDouble, tmp_path: Path) -> AsyncIterator[BotApplication]:
    async with polling(settings_for(double, tmp_path / "data")) as app:
        yield app


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
