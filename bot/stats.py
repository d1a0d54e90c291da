"""Counters since start-up, for /stats (and, later, metrics)."""

from __future__ import annotations

from collections import Counter


class Stats:
    """Plain counters; the bot is one process, so no locking is needed."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount

    def get(self, name: str) -> int:
        return self.counts[name]
