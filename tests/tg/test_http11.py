"""The lean HTTP/1.1 client: keep-alive, the ways an answer's end is told, a server that closed
an idle connection, timeouts and refusals as PTB's errors, TLS; against real sockets on
127.0.0.1 served by scripted asyncio servers (the Bot API double covers the rest end to end)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from telegram.error import NetworkError, TimedOut

from bot.tg.http11 import Http11Pool, Timeouts

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


async def test_a_connection_is_kept_for_the_next_request() -> None:
    """Two requests in a row share one connection; the body and headers are the Bot API's."""
    async with scripted(await always(ok(b'{"ok":true}'))) as server:
        pool = Http11Pool(4)
        url = f"http://127.0.0.1:{server.port}/botTOKEN/getMe"
        assert await pool.request("POST", url, b'{"a":"1"}', timeouts=FAST) == (
            200,
            b'{"ok":true}',
        )
        assert await pool.request("POST", url, b"{}", timeouts=FAST) == (200, b'{"ok":true}')
        await pool.aclose()
    assert server.connections == 1
    first = server.requests[0].decode()
    assert first.startswith("POST /botTOKEN/getMe HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n" in first
    assert "Content-Type: application/json\r\n" in first and first.endswith('{"a":"1"}')


async def test_chunked_answers_and_answers_up_to_the_close_are_read_whole() -> None:
    """A chunked body is joined; a body without length ends at the close and is not reused."""
    chunked = ok(b'4\r\n{"ok\r\n7;x=1\r\n":true}\r\n0\r\n\r\n', "Transfer-Encoding: chunked")
    async with scripted(await always(chunked)) as server:
        pool = Http11Pool(4)
        url = f"http://127.0.0.1:{server.port}/m"
        assert await pool.request("POST", url, timeouts=FAST) == (200, b'{"ok":true}')
        assert pool.idle_connections == 1
        await pool.aclose()

    until_close = b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"ok":true}' + CLOSE
    async with scripted(await always(until_close)) as server:
        pool = Http11Pool(4)
        url = f"http://127.0.0.1:{server.port}/m"
        assert await pool.request("POST", url, timeouts=FAST) == (200, b'{"ok":true}')
        assert pool.idle_connections == 0
        await pool.aclose()


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """The server hangs up after each answer (its keep-alive timeout): each request goes out
    once, on a new connection, and succeeds."""
    async with scripted(_each_connection_once(ok(b'{"ok":true}'))) as server:
        pool = Http11Pool(4)
        url = f"http://127.0.0.1:{server.port}/m"
        for _ in range(3):
            assert await pool.request("POST", url, b"{}", timeouts=FAST) == (200, b'{"ok":true}')
            await asyncio.sleep(0.05)  # the server's close arrives while the connection idles
        await pool.aclose()
    assert server.connections == 3 and len(server.requests) == 3


async def test_a_reused_connection_that_ends_before_any_answer_is_replaced_once() -> None:
    """The race of a keep-alive timeout: the old connection ends with not one byte of answer,
    so the request goes again on a new connection (as urllib3 and browsers do); a fresh
    connection ending so is an error instead (next test)."""
    async with scripted(_each_connection_once(ok(b'{"ok":true}'), hang_up_on_next=True)) as server:
        pool = Http11Pool(4)
        url = f"http://127.0.0.1:{server.port}/m"
        assert await pool.request("POST", url, b"1", timeouts=FAST) == (200, b'{"ok":true}')
        assert await pool.request("POST", url, b"2", timeouts=FAST) == (200, b'{"ok":true}')
        await pool.aclose()
    assert server.connections == 2
    assert [r.rpartition(b"\r\n")[2] for r in server.requests] == [b"1", b"2", b"2"]


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

    async with scripted(hang_up) as server:
        pool = Http11Pool(4)
        with pytest.raises(NetworkError, match="without answering"):
            await pool.request("POST", f"http://127.0.0.1:{server.port}/m", timeouts=FAST)
        await pool.aclose()
    assert len(server.requests) == 1


async def test_a_silent_server_times_out_and_a_full_pool_says_so() -> None:
    """No answer within the read timeout is TimedOut; a request with no free connection
    within the pool timeout is TimedOut naming the pool, and was never sent."""

    async def never(_: bytes) -> bytes | None:
        await asyncio.sleep(30)
        return None

    async with scripted(never) as server:
        pool = Http11Pool(1)
        url = f"http://127.0.0.1:{server.port}/m"
        busy = asyncio.create_task(pool.request("POST", url, timeouts=FAST))
        await asyncio.sleep(0.05)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await pool.request("POST", url, timeouts=FAST)
        with pytest.raises(TimedOut):
            await busy
        await pool.aclose()
    assert len(server.requests) == 1


async def test_a_refused_connection_and_a_garbled_answer_are_network_errors() -> None:
    """Nothing listening, or an answer that is not HTTP: NetworkError, never a raw OSError."""
    async with scripted(await always(b"SSH-2.0-OpenSSH\r\n\r\n")) as server:
        port = server.port
        pool = Http11Pool(2)
        with pytest.raises(NetworkError, match="status line"):
            await pool.request("POST", f"http://127.0.0.1:{port}/m", timeouts=FAST)
        await pool.aclose()
    await asyncio.sleep(0.05)
    pool = Http11Pool(2)
    with pytest.raises(NetworkError, match="ConnectError"):
        await pool.request("POST", f"http://127.0.0.1:{port}/m", timeouts=FAST)
    with pytest.raises(NetworkError, match="ftp"):
        await pool.request("POST", "ftp://127.0.0.1/m", timeouts=FAST)


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
        trusting = Http11Pool(2, ssl_context=ssl.create_default_context(cafile=str(cert)))
        assert await trusting.request("POST", url, timeouts=FAST) == (200, b'{"ok":true}')
        await trusting.aclose()
        with pytest.raises(NetworkError, match="CERTIFICATE_VERIFY_FAILED"):
            await Http11Pool(2).request("POST", url, timeouts=FAST)


async def test_a_request_finishing_after_the_close_keeps_no_connection() -> None:
    """aclose() during a request: the answer still arrives, its connection is not kept."""

    async def slow(_: bytes) -> bytes | None:
        await asyncio.sleep(0.2)
        return ok(b'{"ok":true}')

    async with scripted(slow) as server:
        pool = Http11Pool(2)
        url = f"http://127.0.0.1:{server.port}/m"
        in_flight = asyncio.create_task(pool.request("POST", url, timeouts=FAST))
        await asyncio.sleep(0.05)
        await pool.aclose()
        assert await in_flight == (200, b'{"ok":true}')
        assert pool.idle_connections == 0


async def test_an_answer_without_a_body_is_read_as_empty() -> None:
    """204 carries no body, even without a length: the connection stays usable."""
    async with scripted(await always(b"HTTP/1.1 204 No Content\r\n\r\n")) as server:
        pool = Http11Pool(2)
        url = f"http://127.0.0.1:{server.port}/m"
        assert await pool.request("POST", url, timeouts=FAST) == (204, b"")
        assert await pool.request("POST", url, timeouts=FAST) == (204, b"")
        await pool.aclose()
    assert server.connections == 1
