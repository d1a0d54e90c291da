"""What services count (answers, digests), without knowing where the counts go."""

from __future__ import annotations

from typing import Protocol


class Tally(Protocol):
    """bot.app.stats.Stats in the application; services only add to it."""

    def add(self, name: str, amount: int = 1) -> None: ...


class NoTally:
    """Counts nothing: for services built outside the application (tests, the CLI)."""

    def add(self, name: str, amount: int = 1) -> None:
        pass
