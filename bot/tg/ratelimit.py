"""PTB's AIORateLimiter with the overall rate shared by every replica (PostgreSQL).

AIORateLimiter stays in charge of what it does per process: per-group limits, and waiting
out a RetryAfter before retrying. The overall per-token rate moves to SharedSendRate
(bot/store/pg/sendrate.py): every request to a chat waits for a slot all replicas draw from,
and a 429 seen here pauses all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

from bot.store.pg.sendrate import SharedSendRate

Result = bool | dict[str, Any] | list[dict[str, Any]]


class SharedRateLimiter(AIORateLimiter):
    def __init__(self, *, max_retries: int = 3) -> None:
        # No overall limiter of its own: the shared one replaces it.
        super().__init__(overall_max_rate=0, overall_time_period=0, max_retries=max_retries)
        self.shared: SharedSendRate | None = None  # set once the services are open

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        shared = self.shared
        # As AIORateLimiter's overall limit: requests to a chat count, getUpdates and the
        # like do not.
        if shared is None or data.get("chat_id") is None:
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )

        async def gated(*a: Any, **k: Any) -> Result:
            await shared.acquire()  # each attempt, retries included, takes a slot
            try:
                return await callback(*a, **k)
            except RetryAfter as exc:
                wait = exc.retry_after
                await shared.pause(wait if isinstance(wait, int) else wait.total_seconds())
                raise

        return await super().process_request(gated, args, kwargs, endpoint, data, rate_limit_args)
