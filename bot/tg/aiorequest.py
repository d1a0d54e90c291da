"""The Bot API's JSON calls on aiohttp: one ``ClientSession``, a bounded pool of kept-alive
connections, PTB's timeouts and errors.

Why aiohttp and not httpx for these: httpx's layers (httpcore, anyio cancel scopes, h11, PTB
form-encoding every parameter) cost about 1.4 ms of CPU per request against the Bot API double;
aiohttp's C-accelerated parser and JSON bodies a fraction of that (bench/bot_api_client.py), and
the bot makes one to three requests per update (bench/soak.py). Why not our own client any more:
TLS, proxies and keep-alive edge cases belong to a maintained library.

Failures are PTB's, as HTTPXRequest raises them: ``TimedOut`` for a timeout (the pool's says so,
and such a request was never sent), ``NetworkError`` naming aiohttp's error for the rest. A POST
is never sent twice: aiohttp retries a dropped kept-alive connection only for idempotent methods.
"""

from __future__ import annotations

import asyncio
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import orjson
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

_POOL_TIMEOUT = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* "
    "sent to Telegram. Consider adjusting the connection pool size or the pool timeout."
)


def _json_body(request_data: RequestData) -> bytes:
    """The parameters as one JSON object, nested values (keyboards, entities) as JSON objects
    too, which the Bot API reads as it reads their string form; encoded by orjson in one call.
    PTB's ``json_payload`` encodes each nested value apart with the standard library, then the
    whole. With answers decoded by orjson too (request.py), a send_message costs 0.55 ms of CPU
    instead of 0.59-0.62 (PTB's whole call against the double, measured in one sitting).
    Whatever orjson refuses (a key that is not a string) is left to PTB's encoding."""
    try:
        return orjson.dumps(request_data.parameters)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return request_data.json_payload


@dataclass(frozen=True)
class Timeouts:
    """Seconds for each phase of a request; None waits for ever (PTB's meaning)."""

    connect: float | None = 5.0
    write: float | None = 5.0
    read: float | None = 5.0
    pool: float | None = 1.0


DEFAULT_TIMEOUTS = Timeouts()  # PTB's HTTPXRequest defaults: 5 s each, 1 s for the pool


class AiohttpRequest(BaseRequest):
    """JSON POSTs (``request_data.json_payload``) on one aiohttp session of at most
    ``connection_pool_size`` connections; no uploads (TrackingRequest sends those via httpx)."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 1,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        ssl_context: Any = None,
    ) -> None:
        self._size = connection_pool_size
        self._timeouts = timeouts
        self._ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._client_timeouts: dict[Timeouts, aiohttp.ClientTimeout] = {}
        self._proxies: dict[str, str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts.read

    async def initialize(self) -> None:
        # Made here, not in __init__: the session and its connector belong to the running loop.
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self._size,
            # The trust store of httpx (certifi), as for uploads and PTB's own requests.
            ssl=self._ssl_context if self._ssl_context is not None else httpx.create_ssl_context(),
        )
        self._slots = asyncio.Semaphore(self._size)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": HTTPXRequest.USER_AGENT, "Content-Type": "application/json"},
            # aiohttp's trust_env looks the proxy (and .netrc) up in a thread on every request,
            # most of its CPU per call: _proxy_for reads the environment once per URL instead.
            trust_env=False,
            # Bodies are PTB's JSON bytes; the session never (de)serializes anything itself.
            raise_for_status=False,
        )

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

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
        session, slots = self._session, self._slots
        if session is None or slots is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        given = self._timeouts
        timeouts = Timeouts(
            connect=_or(connect_timeout, given.connect),
            write=_or(write_timeout, given.write),
            read=_or(read_timeout, given.read),
            pool=_or(pool_timeout, given.pool),
        )
        body = _json_body(request_data) if request_data is not None else b""
        # Our own pool wait, not aiohttp's: its "connect" timeout covers both the wait for a free
        # connection and the connecting, and PTB's callers need to know the request never left.
        try:
            async with asyncio.timeout(timeouts.pool):
                await slots.acquire()
        except TimeoutError:
            raise TimedOut(_POOL_TIMEOUT) from None
        try:
            async with session.request(
                method,
                url,
                data=body,
                timeout=self._client_timeout(timeouts),
                proxy=self._proxy_for(url),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's ServerTimeoutError and its kinds included
            raise TimedOut() from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        finally:
            slots.release()

    def _proxy_for(self, url: str) -> str | None:
        """HTTPS_PROXY and the like (NO_PROXY respected), as httpx, the uploads' client, reads
        them."""
        if url in self._proxies:
            return self._proxies[url]
        parts = urlsplit(url)
        proxy = None
        if not urllib.request.proxy_bypass(parts.hostname or ""):
            proxy = urllib.request.getproxies_environment().get(parts.scheme)
        if len(self._proxies) < 1024:  # Bot API URLs: one per method, a few dozen in all
            self._proxies[url] = proxy
        return proxy

    def _client_timeout(self, timeouts: Timeouts) -> aiohttp.ClientTimeout:
        known = self._client_timeouts.get(timeouts)
        if known is None:
            phases = (timeouts.connect, timeouts.write, timeouts.read)
            known = aiohttp.ClientTimeout(
                # aiohttp has no write timeout: the whole request is bounded by the sum of its
                # phases instead, so a stalled write still ends.
                total=None if None in phases else sum(p for p in phases if p is not None),
                sock_connect=timeouts.connect,
                sock_read=timeouts.read,
            )
            if len(self._client_timeouts) < 64:  # a handful of distinct timeouts in practice
                self._client_timeouts[timeouts] = known
        return known


def _or(value: Any, default: float | None) -> float | None:
    """PTB passes DEFAULT_NONE for "the request's own default"."""
    if isinstance(value, type(BaseRequest.DEFAULT_NONE)):
        return default
    return None if value is None else float(value)
