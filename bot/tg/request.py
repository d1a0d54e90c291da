"""The bot's HTTP requests to Telegram: the Bot API's JSON calls on our lean keep-alive client
(bot/tg/http11.py), uploads and downloads on PTB's HTTPXRequest; each answer from Telegram is
remembered (for /readyz) and each flood-control answer reported.

Why JSON bodies: PTB's HTTPXRequest form-encodes every parameter, quoting the text and the
keyboard character by character in Python; the Bot API reads JSON bodies the same way.
Why not several httpx pools any more (they worked around httpcore 1.0.9 walking every
connection of a pool on each request, encode/httpcore#1035): the JSON calls no longer go
through httpcore, and uploads are rare.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.tg.http11 import Http11Pool, Timeouts

DEFAULT_TIMEOUTS = Timeouts()  # PTB's HTTPXRequest defaults: 5 s each, 1 s for the pool


class TrackingRequest(BaseRequest):
    """JSON POSTs on an ``Http11Pool`` of ``connection_pool_size`` connections; the rest (files)
    on an HTTPXRequest."""

    def __init__(
        self, *, connection_pool_size: int = 1, timeouts: Timeouts = DEFAULT_TIMEOUTS
    ) -> None:
        self._size = connection_pool_size
        self._timeouts = timeouts
        self._pool: Http11Pool | None = None
        self._files = HTTPXRequest(
            connection_pool_size=max(1, min(connection_pool_size, 8)),
            read_timeout=timeouts.read,
            write_timeout=timeouts.write,
            connect_timeout=timeouts.connect,
            pool_timeout=timeouts.pool,
        )
        self.last_answer = 0.0
        self.ok_answers = 0  # 2xx answers: for getUpdates, polls that Telegram completed
        # Set once the metrics exist (post_init); requests are built before them.
        self.on_flood: Callable[[], None] | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts.read

    async def initialize(self) -> None:
        # Made here, not in __init__: its semaphore and connections belong to the running loop.
        if self._pool is None:
            self._pool = Http11Pool(self._size, user_agent=HTTPXRequest.USER_AGENT)
        await self._files.initialize()

    async def shutdown(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()
        await self._files.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if method != "POST" or (request_data is not None and request_data.contains_files):
            status, payload = await self._files.do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )  # fmt: skip
        else:
            if self._pool is None:
                raise RuntimeError("This TrackingRequest is not initialized!")
            given = self._timeouts
            timeouts = Timeouts(
                connect=_or(connect_timeout, given.connect),
                write=_or(write_timeout, given.write),
                read=_or(read_timeout, given.read),
                pool=_or(pool_timeout, given.pool),
            )
            body = request_data.json_payload if request_data is not None else b""
            status, payload = await self._pool.request("POST", url, body, timeouts=timeouts)
        if status < 500:
            self.last_answer = time.monotonic()
        if 200 <= status < 300:
            self.ok_answers += 1
        if status == 429 and self.on_flood is not None:
            self.on_flood()
        return status, payload


def _or(value: Any, default: float | None) -> float | None:
    """PTB passes DEFAULT_NONE for "the request's own default"."""
    if isinstance(value, type(BaseRequest.DEFAULT_NONE)):
        return default
    return None if value is None else float(value)
