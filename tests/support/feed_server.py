"""RSS and Atom feeds over real HTTP on 127.0.0.1, with the faults real feeds have.

    with FeedServer() as server:
        server.feed("/openai.xml", rss([FeedItem("OpenAI and Microsoft ...", "/a")]))
        url = server.url("/openai.xml")

Each path is a :class:`Route`. A feed answers conditional GETs as real servers do: an ``ETag``
(a hash of the body) and a ``Last-Modified``; a request that sends back either, for an
unchanged body, gets ``304 Not Modified`` with no body. A body may be a callable of the
request's number, so a feed can change on every fetch (new guids each time, as some CMSs do).
Faults: an HTTP status (``Retry-After`` too), a redirect, a connection that is accepted and
never answered (until the server stops), and a huge body streamed in 64 KiB pieces, with or
without ``Content-Length``; the server counts what it managed to send before the client went.

Every request is recorded (:attr:`FeedServer.requests`). All public methods are thread-safe.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import hashlib
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from xml.sax.saxutils import escape

__all__ = ["FeedItem", "FeedServer", "Request", "Route", "atom", "rss"]

Body = bytes | Callable[[int], bytes]
_PIECE = 64 * 1024


@dataclass(frozen=True)
class FeedItem:
    title: str
    link: str | None = None
    guid: str | None = None
    summary: str = ""
    published: dt.datetime | None = None


def rss(items: Sequence[FeedItem], title: str = "A feed", *, link: str = "/") -> bytes:
    """An RSS 2.0 document."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{escape(link)}</link>",
        "<description>test feed</description>",
    ]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title>")
        if item.link is not None:
            parts.append(f"<link>{escape(item.link)}</link>")
        if item.guid is not None:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        if item.summary:
            parts.append(f"<description>{escape(item.summary)}</description>")
        if item.published is not None:
            parts.append(f"<pubDate>{email.utils.format_datetime(item.published)}</pubDate>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def atom(items: Sequence[FeedItem], title: str = "An Atom feed") -> bytes:
    """An Atom 1.0 document."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(title)}</title><id>urn:test:feed</id>",
        "<updated>2026-01-01T00:00:00Z</updated>",
    ]
    for n, item in enumerate(items):
        parts.append("<entry>")
        parts.append(f"<title>{escape(item.title)}</title>")
        if item.link is not None:
            parts.append(f'<link rel="alternate" href="{escape(item.link)}"/>')
        parts.append(f"<id>{escape(item.guid or f'urn:test:{n}')}</id>")
        when = item.published or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        parts.append(f"<updated>{when.isoformat()}</updated>")
        if item.summary:
            parts.append(f'<summary type="html">{escape(item.summary)}</summary>')
        parts.append("</entry>")
    parts.append("</feed>")
    return "".join(parts).encode()


@dataclass
class Route:
    body: Body = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    conditional: bool = True  # ETag and Last-Modified, and 304s for an unchanged body
    headers: dict[str, str] = field(default_factory=dict)
    location: str | None = None  # a redirect's target (with a 3xx status)
    stall: bool = False  # accept, read the request, never answer
    huge: int = 0  # stream this many bytes of junk instead of the body
    declare_length: bool = True  # a huge body with Content-Length (else chunked)


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    answered: int  # the status sent (0: none)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.server.fake
        path = self.path
        route, count = fake._take(path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        if route is None:
            self._send(404, b"not found", "text/plain", {})
            fake._record(Request(path, headers, 404))
            return
        if route.stall:
            fake._record(Request(path, headers, 0))
            fake._stopping.wait()
            self.close_connection = True
            return
        if route.huge:
            fake._record(Request(path, headers, 200))
            self._huge(route)
            return
        if route.location is not None:
            extra = {"Location": route.location, **route.headers}
            self._send(route.status, b"", "text/plain", extra)
            fake._record(Request(path, headers, route.status))
            return
        body = route.body(count) if callable(route.body) else route.body
        extra = dict(route.headers)
        status = route.status
        if route.conditional and status == 200:
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            modified = email.utils.format_datetime(fake.modified, usegmt=True)
            extra |= {"ETag": etag, "Last-Modified": modified}
            if headers.get("if-none-match") == etag or (
                "if-none-match" not in headers and headers.get("if-modified-since") == modified
            ):
                self._send(304, b"", None, extra)
                fake._record(Request(path, headers, 304))
                return
        self._send(status, body, route.content_type, extra)
        fake._record(Request(path, headers, status))

    def _send(
        self, status: int, body: bytes, content_type: str | None, headers: dict[str, str]
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def _huge(self, route: Route) -> None:
        fake = self.server.fake
        self.send_response(200)
        self.send_header("Content-Type", route.content_type)
        if route.declare_length:
            self.send_header("Content-Length", str(route.huge))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        piece = b"<!-- junk -->" * (_PIECE // 13)
        left = route.huge
        self.close_connection = True
        try:
            while left > 0 and not fake._stopping.is_set():
                data = piece[: min(len(piece), left)]
                if route.declare_length:
                    self.wfile.write(data)
                else:
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                fake._sent(len(data))
                left -= len(data)
            if not route.declare_length:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client hung up: what it should do past its cap


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FeedServer) -> None:
        self.fake = fake
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        self._closing = False
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="feed-server-connection",
            daemon=True,
        )
        with self._connections_lock:
            if self._closing:
                self.shutdown_request(request)
                return
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            pass  # a vanished client is not an error of the server
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)
            self.shutdown_request(request)

    def close_connections(self, timeout: float) -> None:
        with self._connections_lock:
            self._closing = True
            connections = list(self._connections.items())
            for sock, _ in connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            thread.join(timeout)


class FeedServer:
    """Feeds on 127.0.0.1; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._routes: dict[str, Route] = {}
        self._counts: dict[str, int] = {}
        self._requests: list[Request] = []
        self._bytes_sent = 0
        self.modified = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- routes --------------------------------------------------------------------------

    def route(self, path: str, route: Route) -> str:
        with self._lock:
            self._routes[path] = route
        return self.url(path)

    def feed(self, path: str, body: Body, **options: Any) -> str:
        return self.route(path, Route(body=body, **options))

    def url(self, path: str) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    # ---- what happened -------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    @property
    def bytes_sent(self) -> int:
        """Bytes of huge bodies written to sockets (the kernel may hold some unread)."""
        with self._lock:
            return self._bytes_sent

    def _take(self, path: str) -> tuple[Route | None, int]:
        with self._lock:
            route = self._routes.get(path)
            count = self._counts.get(path, 0)
            self._counts[path] = count + 1
            return route, count

    def _record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def _sent(self, size: int) -> None:
        with self._lock:
            self._bytes_sent += size

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FeedServer is already running")
        self._stopping.clear()
        server = _Server(self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="feed-server",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Wakes stalled requests, closes every connection and joins all threads."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections(timeout=2.0)
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
