"""A short per-chat memory so that follow-ups ("and in French?", "et pour la bourse ?") work."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.core.domain import Lang

DEFAULT_TTL = 600.0
MAX_CHATS = 10_000


@dataclass(frozen=True)
class Turn:
    """What the chat last asked and was shown."""

    question: str | None = None
    lang: Lang | None = None
    topic: str | None = None
    fact_ids: tuple[str, ...] = ()
    primed_topic: str | None = None  # set by "Ask about this", used by the next question


class ChatMemory:
    """Recent turns per chat, forgotten after ``ttl`` seconds; bounded so it cannot grow."""

    def __init__(
        self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._turns: OrderedDict[int, tuple[float, Turn]] = OrderedDict()

    def get(self, chat_id: int) -> Turn | None:
        entry = self._turns.get(chat_id)
        if entry is None:
            return None
        at, turn = entry
        if self._clock() - at > self._ttl:
            del self._turns[chat_id]
            return None
        return turn

    def put(self, chat_id: int, turn: Turn) -> None:
        self._turns[chat_id] = (self._clock(), turn)
        self._turns.move_to_end(chat_id)
        while len(self._turns) > MAX_CHATS:
            self._turns.popitem(last=False)

    def prime(self, chat_id: int, topic: str) -> None:
        self.put(chat_id, replace(self.get(chat_id) or Turn(), primed_topic=topic))
