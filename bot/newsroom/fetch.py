"""One conditional GET of a feed, bounded in time and in bytes, never raising.

The body is streamed and counted as it arrives (decoded, so a gzip bomb counts at its real
size): past ``max_bytes`` the connection is dropped, so a 10 MB answer costs at most the cap
in memory. ``deadline`` bounds the whole fetch, redirects included, not just each read: a
server that trickles a byte a second would pass httpx's per-read timeout forever.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
from dataclasses import dataclass

import httpx

from bot.store.feeds import FeedErrorKind

USER_AGENT = "partnerbrief-newsroom/0.1 (+https://github.com/partnerbrief)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    """What one fetch gave: a body (200), not modified (304), or an error."""

    url: str  # where the answer came from, after redirects
    status: int | None = None  # None: no answer
    body: bytes | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: FeedErrorKind | None = None
    detail: str = ""
    retry_after: str | None = None  # the header of a 429 or 503, as sent
    bytes_read: int = 0


def new_client(timeout: float) -> httpx.AsyncClient:
    """The intake's one client (the composition root owns and closes it)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
    )


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    deadline: float,
    max_bytes: int,
) -> Fetched:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(deadline):
            return await _get(client, url, headers, max_bytes)
    except TimeoutError:
        return Fetched(url, error="timeout", detail=f"{deadline:g} s")
    except httpx.TimeoutException as exc:
        return Fetched(url, error="timeout", detail=type(exc).__name__)
    except httpx.TooManyRedirects:
        return Fetched(url, error="redirects", detail=f"> {MAX_REDIRECTS}")
    except (httpx.HTTPError, OSError, ValueError) as exc:
        # ValueError: httpx's answer to a URL it cannot request (bad port, bad host).
        return Fetched(url, error="network", detail=f"{type(exc).__name__}: {exc}"[:200])


async def _get(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], max_bytes: int
) -> Fetched:
    async with client.stream("GET", url, headers=headers) as response:
        final = str(response.url)
        status = response.status_code
        common = {
            "url": final,
            "status": status,
            "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified"),
        }
        if status == 304:
            return Fetched(**common)
        if status != 200:
            return Fetched(
                **common,
                error="http",
                detail=f"HTTP {status}",
                retry_after=response.headers.get("Retry-After"),
            )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            return Fetched(**common, error="too_large", detail=f"{declared} B")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                return Fetched(
                    **common, error="too_large", detail=f"> {max_bytes} B", bytes_read=size
                )
            chunks.append(chunk)
        return Fetched(
            **common,
            body=b"".join(chunks),
            content_type=response.headers.get("Content-Type"),
            bytes_read=size,
        )


def retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    """Retry-After as a wait: seconds, or an HTTP date (then from ``now``)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return dt.timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(dt.timedelta(0), when - now)
