"""The bot's HTTP requests to Telegram: PTB's HTTPXRequest over a few small connection pools,
remembering when Telegram last answered and reporting its flood-control answers.

Why several pools: httpcore 1.0.9 walks every connection of a pool, and for each idle one every
other connection, on each request and each response (encode/httpcore#1035, unreleased). With 8
digests in flight on one pool that bookkeeping cost 0.28 ms of CPU per message; spread over 4
pools, 2 connections each, it is gone (1.19 -> 0.91 ms per message, measured with
bench/broadcast.py's sweep over 3,000 subscribers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from telegram.request import BaseRequest, HTTPXRequest, RequestData


class TrackingRequest(BaseRequest):
    """Sends each request on the least busy of ``pools`` HTTPXRequests."""

    def __init__(self, *, pools: int = 1, connection_pool_size: int = 1) -> None:
        self._pools = [
            HTTPXRequest(connection_pool_size=connection_pool_size) for _ in range(pools)
        ]
        self._in_flight = [0] * pools
        self.last_answer = 0.0
        self.ok_answers = 0  # 2xx answers: for getUpdates, polls that Telegram completed
        # Set once the metrics exist (post_init); requests are built before them.
        self.on_flood: Callable[[], None] | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._pools[0].read_timeout

    async def initialize(self) -> None:
        for pool in self._pools:
            await pool.initialize()

    async def shutdown(self) -> None:
        for pool in self._pools:
            await pool.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        index = min(range(len(self._pools)), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1
        try:
            status, payload = await self._pools[index].do_request(
                url, method, request_data, *args, **kwargs
            )
        finally:
            self._in_flight[index] -= 1
        if status < 500:
            self.last_answer = time.monotonic()
        if 200 <= status < 300:
            self.ok_answers += 1
        if status == 429 and self.on_flood is not None:
            self.on_flood()
        return status, payload
