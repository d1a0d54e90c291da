"""A short per-chat memory so that follow-ups ("and in French?", "et pour la bourse ?") work.

Kept in this process by default; given tables (the PostgreSQL backend's ``chats``), it lives
in the store, so that a follow-up reaching another replica finds the question it follows.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bot.core.domain import Lang
from bot.store.journal import KeyOf
from bot.store.tables import Tables

DEFAULT_TTL = 600.0
MAX_CHATS = 10_000
CHATS = "chats"  # the backend's name for the stored memory
TURNS = "turns"
TABLE_KEYS: dict[str, KeyOf] = {TURNS: lambda doc: str(doc["chat"])}


@dataclass(frozen=True)
class Turn:
    """What the chat last asked and was shown."""

    question: str | None = None
    lang: Lang | None = None
    topic: str | None = None
    fact_ids: tuple[str, ...] = ()
    primed_topic: str | None = None  # set by "Ask about this", used by the next question


class ChatMemory:
    """Recent turns per chat, forgotten after ``ttl`` seconds; bounded so it cannot grow.

    Stored turns are stamped with ``clock``, which must then be shared by every replica (the
    wall clock's seconds, not time.monotonic); expired ones are dropped when the tables are
    compacted.
    """

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
        tables: Tables | None = None,
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._tables = tables
        self._turns: OrderedDict[int, tuple[float, Turn]] = OrderedDict()

    def get(self, chat_id: int) -> Turn | None:
        entry = self._turns.get(chat_id) if self._tables is None else self._stored(chat_id)
        if entry is None:
            return None
        at, turn = entry
        if self._clock() - at > self._ttl:
            self._forget(chat_id)
            return None
        return turn

    def put(self, chat_id: int, turn: Turn) -> None:
        if self._tables is not None:
            self._tables.put(TURNS, str(chat_id), _doc(chat_id, self._clock(), turn))
            return
        self._turns[chat_id] = (self._clock(), turn)
        self._turns.move_to_end(chat_id)
        while len(self._turns) > MAX_CHATS:
            self._turns.popitem(last=False)

    def prime(self, chat_id: int, topic: str) -> None:
        self.put(chat_id, replace(self.get(chat_id) or Turn(), primed_topic=topic))

    def _stored(self, chat_id: int) -> tuple[float, Turn] | None:
        assert self._tables is not None
        doc = self._tables.table(TURNS).get(str(chat_id))
        return None if doc is None else (float(doc["at"]), _turn(doc))

    def _forget(self, chat_id: int) -> None:
        if self._tables is None:
            del self._turns[chat_id]
        else:
            self._tables.put(TURNS, str(chat_id), None)


def _doc(chat_id: int, at: float, turn: Turn) -> dict[str, Any]:
    return {
        "chat": chat_id,
        "at": at,
        "question": turn.question,
        "lang": turn.lang,
        "topic": turn.topic,
        "facts": list(turn.fact_ids),
        "primed": turn.primed_topic,
    }


def _turn(doc: dict[str, Any]) -> Turn:
    lang = doc.get("lang")
    return Turn(
        question=doc.get("question"),
        lang="fr" if lang == "fr" else "en" if lang == "en" else None,
        topic=doc.get("topic"),
        fact_ids=tuple(str(f) for f in doc.get("facts", ())),
        primed_topic=doc.get("primed"),
    )
