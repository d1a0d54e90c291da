"""The JSON calls on aiohttp: keep-alive, the ways an answer's end is told, a server that closed
an idle connection, timeouts and refusals as PTB's errors, TLS; against real sockets on
127.0.0.1 served by scripted asyncio servers (the Bot API double covers the rest end to end)."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.tg.aiorequest import AiohttpRequest, Timeouts

Answer = Callable[[bytes], Awaitable[bytes | None]]
FAST = Timeouts(connect=2.0, write=2.0, read=0.5, pool=0.2)
CLOSE = b"<then close>"  # an answer ending so is written, then the server hangs up


def ok(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers) or f"Content-Length: {len(body)}\r\n"
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{head}\r\n".encode() + body


class Scripted:
    """Serves each connection with ``answer(request body)``; None hangs up without answering,
    an answer ending with CLOSE hangs up after it."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                reply = await self.answer(body)
                if reply is None:
                    break
                writer.write(reply.removesuffix(CLOSE))
                await writer.drain()
                if reply.endswith(CLOSE):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def scripted(
    answer: Answer, context: ssl.SSLContext | None = None
) -> AsyncIterator[Scripted]:
    server = Scripted(answer)
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=context)
    server.port = listening.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listening.close()
        for task in server.tasks:
            task.cancel()
        await asyncio.gather(*server.tasks, return_exceptions=True)


async def always(reply: bytes) -> Answer:
    async def answer(_: bytes) -> bytes:
        return reply

    return answer


@asynccontextmanager
async def client(
    size: int, context: ssl.SSLContext | None = None
) -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest(connection_pool_size=size, timeouts=FAST, ssl_context=context)
    await request.initialize()
    try:
        yield request
    finally:
        await request.shutdown()


def params(**values: object) -> RequestData:
    return RequestData([RequestParameter.from_input(k, v) for k, v in values.items()])


async def test_a_connection_is_kept_for_the_next_request() -> None:
    """Two requests in a row share one connection; the body and headers are the Bot API's."""
    async with scripted(await always(ok(b'{"ok":true}'))) as server, client(4) as request:
        url = f"http://127.0.0.1:{server.port}/botTOKEN/getMe"
        assert await request.do_request(url, "POST", params(a="1")) == (200, b'{"ok":true}')
        assert await request.do_request(url, "POST") == (200, b'{"ok":true}')
    assert server.connections == 1
    head, _, body = server.requests[0].decode().partition("\r\n\r\n")
    assert head.startswith("POST /botTOKEN/getMe HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n" in head
    assert "Content-Type: application/json\r\n" in head and json.loads(body) == {"a": "1"}


async def test_chunked_answers_and_answers_up_to_the_close_are_read_whole() -> None:
    """A chunked body is joined and its connection reused; a body without length ends at the
    close, and the next request opens a new connection."""
    chunked = ok(b'4\r\n{"ok\r\n7;x=1\r\n":true}\r\n0\r\n\r\n', "Transfer-Encoding: chunked")
    async with scripted(await always(chunked)) as server, client(4) as request:
        url = f"http://127.0.0.1:{server.port}/m"
        for _ in range(2):
            assert await request.do_request(url, "POST") == (200, b'{"ok":true}')
    assert server.connections == 1

    until_close = b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"ok":true}' + CLOSE
    async with scripted(await always(until_close)) as server, client(4) as request:
        url = f"http://127.0.0.1:{server.port}/m"
        for _ in range(2):
            assert await request.do_request(url, "POST") == (200, b'{"ok":true}')
    assert server.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """The server hangs up after each answer (its keep-alive timeout): each request goes out
    once, on a new connection, and succeeds."""
    async with (
        scripted(_each_connection_once(ok(b'{"ok":true}'))) as server,
        client(4) as request,
    ):
        url = f"http://127.0.0.1:{server.port}/m"
        for _ in range(3):
            assert await request.do_request(url, "POST") == (200, b'{"ok":true}')
            await asyncio.sleep(0.05)  # the server's close arrives while the connection idles
    assert server.connections == 3 and len(server.requests) == 3


async def test_a_reused_connection_that_ends_before_any_answer_is_not_resent() -> None:
    """The race of a keep-alive timeout: the old connection ends with not one byte of answer.
    A POST may have been acted on, so it is a NetworkError, sent once (the send layer,
    bot/tg/send.py, decides about retrying), and the next request opens a new connection."""
    async with (
        scripted(_each_connection_once(ok(b'{"ok":true}'), hang_up_on_next=True)) as server,
        client(4) as request,
    ):
        url = f"http://127.0.0.1:{server.port}/m"
        assert await request.do_request(url, "POST", params(n=1)) == (200, b'{"ok":true}')
        with pytest.raises(NetworkError, match=r"aiohttp\.ServerDisconnectedError"):
            await request.do_request(url, "POST", params(n=2))
        assert await request.do_request(url, "POST", params(n=3)) == (200, b'{"ok":true}')
    assert server.connections == 2
    # One JSON object per request, values as themselves (orjson), not PTB's strings.
    assert [json.loads(r.partition(b"\r\n\r\n")[2]) for r in server.requests] == [
        {"n": 1},
        {"n": 2},
        {"n": 3},
    ]


def _each_connection_once(reply: bytes, *, hang_up_on_next: bool = False) -> Answer:
    """Answers the first request of each connection; then closes it, right away or on reading
    the next request (``hang_up_on_next``)."""
    answered: set[int] = set()

    async def answer(_: bytes) -> bytes | None:
        task = id(asyncio.current_task())
        if task in answered:
            return None
        answered.add(task)
        return reply if hang_up_on_next else reply + CLOSE

    return answer


async def test_a_fresh_connection_closed_without_an_answer_is_not_retried() -> None:
    """Nothing proves the server did not act on it: a NetworkError, the request sent once."""

    async def hang_up(_: bytes) -> bytes | None:
        return None

    async with scripted(hang_up) as server, client(4) as request:
        with pytest.raises(NetworkError, match="ServerDisconnectedError"):
            await request.do_request(f"http://127.0.0.1:{server.port}/m", "POST")
    assert len(server.requests) == 1


async def test_a_silent_server_times_out_and_a_full_pool_says_so() -> None:
    """No answer within the read timeout is TimedOut; a request with no free connection
    within the pool timeout is TimedOut naming the pool, and was never sent."""

    async def never(_: bytes) -> bytes | None:
        await asyncio.sleep(30)
        return None

    async with scripted(never) as server, client(1) as request:
        url = f"http://127.0.0.1:{server.port}/m"
        busy = asyncio.create_task(request.do_request(url, "POST"))
        await asyncio.sleep(0.05)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await request.do_request(url, "POST")
        with pytest.raises(TimedOut):
            await busy
    assert len(server.requests) == 1


async def test_a_refused_connection_and_a_garbled_answer_are_network_errors() -> None:
    """Nothing listening, or an answer that is not HTTP: NetworkError, never a raw OSError."""
    async with scripted(await always(b"SSH-2.0-OpenSSH\r\n\r\n")) as server, client(2) as request:
        port = server.port
        with pytest.raises(NetworkError, match=r"aiohttp\.ClientResponseError"):
            await request.do_request(f"http://127.0.0.1:{port}/m", "POST")
    await asyncio.sleep(0.05)
    async with client(2) as request:
        with pytest.raises(NetworkError, match="ClientConnectorError"):
            await request.do_request(f"http://127.0.0.1:{port}/m", "POST")
        with pytest.raises(NetworkError, match="ftp"):
            await request.do_request("ftp://127.0.0.1/m", "POST")


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


async def test_https_is_verified_against_the_trust_store(certificate: tuple[Path, Path]) -> None:
    """A server whose certificate the context trusts answers; the default trust store (httpx's)
    refuses the same self-signed server."""
    key, cert = certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    async with scripted(await always(ok(b'{"ok":true}')), served) as server:
        url = f"https://localhost:{server.port}/m"
        async with client(2, ssl.create_default_context(cafile=str(cert))) as trusting:
            assert await trusting.do_request(url, "POST") == (200, b'{"ok":true}')
        async with client(2) as default:
            with pytest.raises(NetworkError, match="CERTIFICATE_VERIFY_FAILED"):
                await default.do_request(url, "POST")


async def test_an_answer_without_a_body_is_read_as_empty() -> None:
    """204 carries no body, even without a length: the connection stays usable."""
    no_content = await always(b"HTTP/1.1 204 No Content\r\n\r\n")
    async with scripted(no_content) as server, client(2) as request:
        url = f"http://127.0.0.1:{server.port}/m"
        assert await request.do_request(url, "POST") == (204, b"")
        assert await request.do_request(url, "POST") == (204, b"")
    assert server.connections == 1
