"""Per-user flood control on incoming updates, so one user cannot slow the bot for others.

A moving window of each user's recent updates, in a deque, on the injected clock. It replaced
`limits`' MovingWindowRateLimiter over its MemoryStorage, which starts a timer thread to expire
keys and took 3-4% of the bot's CPU under bench/soak.py (thread starts and lock waits on the
event loop's thread) for what is a few comparisons per update.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Literal

Verdict = Literal["ok", "warn", "drop"]


class FloodGuard:
    """Past ``burst`` updates in ``window`` seconds a user gets one warning ("warn"), then is
    ignored ("drop") for ``cooldown`` seconds."""

    def __init__(
        self,
        burst: int = 20,
        window: float = 10,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._burst = burst
        self._window = window
        self._cooldown = cooldown
        self._clock = clock
        self._recent: dict[int, deque[float]] = {}
        self._muted_until: dict[int, float] = {}
        self._next_sweep = 0.0

    @property
    def tracked_users(self) -> int:
        """Users with updates in the window or a mute running: what the guard holds in memory."""
        return len(self._recent.keys() | self._muted_until.keys())

    def check(self, user_id: int) -> Verdict:
        now = self._clock()
        self._sweep(now)
        until = self._muted_until.get(user_id)
        if until is not None:
            if now < until:
                return "drop"
            del self._muted_until[user_id]
        recent = self._recent.get(user_id)
        if recent is None:
            recent = self._recent[user_id] = deque()
        horizon = now - self._window
        while recent and recent[0] <= horizon:
            recent.popleft()
        if len(recent) < self._burst:
            recent.append(now)
            return "ok"
        self._muted_until[user_id] = now + self._cooldown
        return "warn"

    def _sweep(self, now: float) -> None:
        """Forget users who went quiet, once a window: memory follows the active users only."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._window
        horizon = now - self._window
        for user_id in [u for u, r in self._recent.items() if not r or r[-1] <= horizon]:
            del self._recent[user_id]
        for user_id in [u for u, until in self._muted_until.items() if until <= now]:
            del self._muted_until[user_id]
