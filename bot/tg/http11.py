"""A lean HTTP/1.1 client for the Bot API's JSON calls: keep-alive connections on asyncio streams.

Why not httpx for these: its layers (httpx, httpcore, anyio cancel scopes, h11, urlencoding of
every parameter) cost 1.4 ms of CPU per request against the Bot API double, this client 0.06 ms,
and the bot makes one to three requests per update (bench/soak.py; see the module's figures in
docs/ARCHITECTURE.md). It does only what the Bot API needs: one request per connection at a time,
bodies with a Content-Length, answers with a Content-Length, chunked or up to the close; TLS
with httpx's trust store. Uploads and downloads still go through PTB's HTTPXRequest
(bot/tg/request.py decides).

Failures are PTB's: ``TimedOut`` for a timeout (the pool's says so, as HTTPXRequest's does),
``NetworkError`` for the rest. A kept-alive connection the server closed while it was idle is
replaced once, and only when not one byte of an answer came back, so no request that the server
may have acted on is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from telegram.error import NetworkError, TimedOut

_POOL_TIMEOUT = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* "
    "sent to Telegram. Consider adjusting the connection pool size or the pool timeout."
)
_MAX_HEADERS = 100


@dataclass(frozen=True)
class Timeouts:
    """Seconds for each phase of a request; None waits for ever (PTB's meaning)."""

    connect: float | None = 5.0
    write: float | None = 5.0
    read: float | None = 5.0
    pool: float | None = 1.0


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


class _Stale(Exception):
    """A reused connection ended before any byte of the answer: the server had closed it."""


class _Connection:
    __slots__ = ("reader", "reused", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reused = False

    @property
    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class Http11Pool:
    """At most ``size`` requests in flight, each on its own connection; idle connections are
    kept for the next request to the same origin."""

    def __init__(
        self,
        size: int = 256,
        *,
        user_agent: str = "partnerbrief",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._slots = asyncio.Semaphore(size)
        self._size = size
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._user_agent = user_agent
        self._ssl_context = ssl_context
        self._targets: dict[str, tuple[Origin, str]] = {}
        self._closed = False  # from aclose() on, connections are closed as requests finish

    @property
    def idle_connections(self) -> int:
        return sum(len(idle) for idle in self._idle.values())

    async def request(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        timeouts: Timeouts = Timeouts(),
    ) -> tuple[int, bytes]:
        """The answer's status and body."""
        origin, target = self._target(url)
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {origin.host_header}\r\n"
            f"User-Agent: {self._user_agent}\r\nAccept: application/json\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        try:
            async with asyncio.timeout(timeouts.pool):
                await self._slots.acquire()
        except TimeoutError:
            raise TimedOut(_POOL_TIMEOUT) from None
        try:
            return await self._send(origin, head + body, timeouts)
        finally:
            self._slots.release()

    async def aclose(self) -> None:
        self._closed = True
        idle = [c for connections in self._idle.values() for c in connections]
        self._idle.clear()
        for connection in idle:
            connection.close()
        for connection in idle:
            # A connection the server had reset is closed all the same.
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()

    # ---- one request

    async def _send(self, origin: Origin, data: bytes, timeouts: Timeouts) -> tuple[int, bytes]:
        while True:
            connection = self._reuse(origin) or await self._connect(origin, timeouts)
            try:
                status, payload, keep = await self._exchange(connection, data, timeouts)
            except _Stale:
                connection.close()
                continue  # a fresh connection next: _reuse gives only idle ones
            except TimeoutError:
                connection.close()
                raise TimedOut() from None
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                connection.close()
                raise NetworkError(f"http11.{type(exc).__name__}: {exc}") from exc
            except BaseException:
                connection.close()  # cancelled mid-request: the stream is in an unknown state
                raise
            if (
                keep
                and not self._closed
                and len(self._idle.setdefault(origin, deque())) < self._size
            ):
                connection.reused = True
                self._idle[origin].append(connection)
            else:
                connection.close()
            return status, payload

    def _reuse(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be stale
            if connection.usable:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin, timeouts: Timeouts) -> _Connection:
        context = None
        if origin.scheme == "https":
            context = self._ssl_context or httpx.create_ssl_context()
            self._ssl_context = context
        try:
            async with asyncio.timeout(timeouts.connect):
                reader, writer = await asyncio.open_connection(
                    origin.host,
                    origin.port,
                    ssl=context,
                    server_hostname=origin.host if context is not None else None,
                )
        except TimeoutError:
            raise TimedOut() from None
        except OSError as exc:
            raise NetworkError(f"http11.ConnectError: {exc}") from exc
        return _Connection(reader, writer)

    async def _exchange(
        self, connection: _Connection, data: bytes, timeouts: Timeouts
    ) -> tuple[int, bytes, bool]:
        reader, writer = connection.reader, connection.writer
        try:
            writer.write(data)
            async with asyncio.timeout(timeouts.write):
                await writer.drain()
        except OSError:
            if connection.reused:
                raise _Stale() from None
            raise
        async with asyncio.timeout(timeouts.read):
            try:
                line = await reader.readline()
            except OSError:
                if connection.reused:
                    raise _Stale() from None
                raise
            if not line:
                if connection.reused:
                    raise _Stale()
                raise NetworkError("http11: the server closed the connection without answering")
            status, version = _status(line)
            headers = await _headers(reader)
            while 100 <= status < 200:  # 100 Continue and the like precede the answer
                status, version = _status(await reader.readline())
                headers = await _headers(reader)
            keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "")
            if status in (204, 304):
                payload = b""  # no body, whatever the headers say (RFC 9112, 6.3)
            elif "chunked" in headers.get("transfer-encoding", ""):
                payload = await _chunked(reader)
            elif "content-length" in headers:
                payload = await reader.readexactly(int(headers["content-length"]))
            else:
                payload, keep = await reader.read(), False
        return status, payload, keep

    def _target(self, url: str) -> tuple[Origin, str]:
        known = self._targets.get(url)
        if known is not None:
            return known
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NetworkError(f"http11: cannot request {parts.scheme or '?'} URLs")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        found = (Origin(parts.scheme, parts.hostname, port), target)
        if len(self._targets) < 1024:  # Bot API URLs: one per method, a few dozen in all
            self._targets[url] = found
        return found


def _status(line: bytes) -> tuple[int, str]:
    version, _, rest = line.decode("latin-1").partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/") or not code.isdigit():
        raise ValueError(f"not an HTTP status line: {line[:80]!r}")
    return int(code), version


async def _headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADERS):
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    raise ValueError(f"more than {_MAX_HEADERS} header lines")


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readline()).split(b";")[0].strip(), 16)
        if size == 0:
            await _headers(reader)  # trailers, if any, end with an empty line
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)  # the CRLF after each chunk
