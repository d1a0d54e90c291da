"""A connection pool on the bot's own event loop, for what replicas share through PostgreSQL
(the delivery queue, the send rate): opened at first use, since the stores are opened before
any loop runs in the CLI and in post_init's synchronous part.

The documents' writer keeps its own pool on its own thread (backend.py): its sync callers
need that; these callers are coroutines, and a hop to another thread per send would cost more
than the query.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool


class SharedPool:
    def __init__(self, url: str, *, size: int = 4, timeout: float = 10.0) -> None:
        self._url = url
        self._size = size
        self._timeout = timeout
        self._pool: AsyncConnectionPool[Any] | None = None
        self._opening = asyncio.Lock()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                        self._url,
                        min_size=1,
                        max_size=self._size,
                        open=False,
                        kwargs={"autocommit": True},
                        timeout=self._timeout,
                        name="partnerbrief-shared",
                    )
                    await pool.open(wait=True, timeout=self._timeout)
                    self._pool = pool
        async with self._pool.connection() as conn:
            yield conn

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close(timeout=2)
