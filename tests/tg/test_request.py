"""The bot's requests: spread over small connection pools, each answer tracked for /readyz and
each flood-control answer reported, over real HTTP against the Bot API double."""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram.error import RetryAfter, TimedOut

from bot.tg.request import TrackingRequest
from tests.support.botapi_double import BotApiDouble

pytestmark = pytest.mark.e2e


async def test_requests_in_flight_go_to_different_pools(double: BotApiDouble) -> None:
    # One connection per pool and a pool timeout far shorter than the answers: were two
    # requests sent on the same pool, the second would time out waiting for its connection.
    request = TrackingRequest(pools=3, connection_pool_size=1)
    url = f"{double.base_url}{double.token}/getMe"
    double.delay_next("getMe", 0.5, times=3)
    await request.initialize()
    try:
        answers = await asyncio.gather(*(request.post(url, pool_timeout=0.1) for _ in range(3)))
        assert len(answers) == 3 and all(isinstance(a, dict) and a["is_bot"] for a in answers)
        # A fourth while three are in flight has no free pool left: the pool limit still holds.
        double.delay_next("getMe", 0.5, times=3)
        busy = [asyncio.create_task(request.post(url)) for _ in range(3)]
        await asyncio.sleep(0.2)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await request.post(url, pool_timeout=0.1)
        await asyncio.gather(*busy)
    finally:
        await request.shutdown()


async def test_answers_and_flood_waits_are_tracked(double: BotApiDouble) -> None:
    request = TrackingRequest(pools=2, connection_pool_size=2)
    floods: list[int] = []
    request.on_flood = lambda: floods.append(1)
    url = f"{double.base_url}{double.token}/getMe"
    await request.initialize()
    try:
        assert request.last_answer == 0.0
        await request.post(url)
        assert time.monotonic() - request.last_answer < 5
        double.fail_next(
            "getMe", status=429, description="Too Many Requests: retry after 1", retry_after=1
        )
        with pytest.raises(RetryAfter):
            await request.post(url)
        assert floods == [1]
    finally:
        await request.shutdown()
