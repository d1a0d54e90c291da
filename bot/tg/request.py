"""The bot's HTTP requests to Telegram: the Bot API's JSON calls on aiohttp
(bot/tg/aiorequest.py), uploads and downloads on PTB's HTTPXRequest; each answer from Telegram is
remembered (for /readyz) and each flood-control answer reported.

Why JSON bodies: PTB's HTTPXRequest form-encodes every parameter, quoting the text and the
keyboard character by character in Python; the Bot API reads JSON bodies the same way.
Why not several httpx pools any more (they worked around httpcore 1.0.9 walking every
connection of a pool on each request, encode/httpcore#1035): the JSON calls no longer go
through httpcore, and uploads are rare.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.tg.aiorequest import DEFAULT_TIMEOUTS, AiohttpRequest, Timeouts
from bot.tg.ordering import ROOM_WAIT, within_room

log = logging.getLogger(__name__)
# How long a request waits for the stores' changes to be acknowledgeable (a disk that takes
# longer is failing: the reply goes anyway, a warning says so).
ACK_WAIT = 5.0


class TrackingRequest(BaseRequest):
    """JSON POSTs on an ``AiohttpRequest`` of ``connection_pool_size`` connections; the rest
    (files) on an HTTPXRequest."""

    def __init__(
        self, *, connection_pool_size: int = 1, timeouts: Timeouts = DEFAULT_TIMEOUTS
    ) -> None:
        self._timeouts = timeouts
        self._json = AiohttpRequest(connection_pool_size=connection_pool_size, timeouts=timeouts)
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
        # Set in post_init on the bot's requests (not getUpdates'): waits until what the stores
        # changed so far may be acknowledged, so that no reply, button answer or edit tells a
        # user of a change a power cut could still take back (Backend.acknowledged).
        self.before_send: Callable[[float], Awaitable[bool]] | None = None
        # Set in post_init on the getUpdates request: given how many updates it fetched so far,
        # waits until the bot has room for more (PerChatOrder.room), so that a backlog stays at
        # Telegram, not in memory.
        self.before_poll: Callable[[int], Awaitable[None]] | None = None
        self.fetched = 0  # updates getUpdates returned so far

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """Telegram's answers decoded by orjson (PTB's documented override point; its own is
        ``json.loads`` on a decoded copy): a few times faster. What orjson refuses, such as
        bytes that are not UTF-8, goes to PTB's, which decodes with replacement or raises its
        own error."""
        try:
            decoded = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return BaseRequest.parse_json_payload(payload)
        if not isinstance(decoded, dict):
            return BaseRequest.parse_json_payload(payload)
        return decoded

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts.read

    async def initialize(self) -> None:
        await self._json.initialize()
        await self._files.initialize()

    async def shutdown(self) -> None:
        await self._json.shutdown()
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
        polling = self.before_poll is not None and url.endswith("/getUpdates")
        if polling and self.before_poll is not None:
            await within_room(self.before_poll, self.fetched, ROOM_WAIT, "fetching")
        if self.before_send is not None and not await self.before_send(ACK_WAIT):
            log.warning(
                "the stores' changes were not on disk after %.0f s; sending anyway", ACK_WAIT
            )
        if method != "POST" or (request_data is not None and request_data.contains_files):
            status, payload = await self._files.do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )  # fmt: skip
        else:
            status, payload = await self._json.do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )  # fmt: skip
        if status < 500:
            self.last_answer = time.monotonic()
        if 200 <= status < 300:
            self.ok_answers += 1
            if polling:
                self.fetched += _result_count(payload)
        if status == 429 and self.on_flood is not None:
            self.on_flood()
        return status, payload


def _result_count(payload: bytes) -> int:
    """How many updates a getUpdates answer holds (0 when it cannot be read: PTB reports it)."""
    try:
        result = orjson.loads(payload).get("result")
    except (orjson.JSONDecodeError, AttributeError):
        return 0
    return len(result) if isinstance(result, list) else 0
