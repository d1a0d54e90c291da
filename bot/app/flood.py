"""Per-user flood control on incoming updates, so one user cannot slow the bot for others."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

Verdict = Literal["ok", "warn", "drop"]


class FloodGuard:
    """Past ``burst`` updates in ``window`` seconds a user gets one warning ("warn"), then is
    ignored ("drop") for ``cooldown`` seconds."""

    def __init__(
        self,
        burst: int = 20,
        window: int = 10,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = RateLimitItemPerSecond(burst, window)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._cooldown = cooldown
        self._clock = clock
        self._muted_until: dict[int, float] = {}

    def check(self, user_id: int) -> Verdict:
        now = self._clock()
        until = self._muted_until.get(user_id)
        if until is not None:
            if now < until:
                return "drop"
            del self._muted_until[user_id]
        if self._limiter.hit(self._limit, "updates", str(user_id)):
            return "ok"
        self._muted_until[user_id] = now + self._cooldown
        return "warn"
