"""Replies that depend only on the content and the reader's language, composed once.

Briefings, /topics, /help, /sources and the welcome are the same for every reader of a language
and locale until content/ is reloaded; composing them (Babel formatting, citations, keyboards)
was 5-8% of the bot's CPU under bench/soak.py. Replies are frozen values, so one can be shared.
The cache is keyed by the library it was composed from: a reload (which swaps in a new Library
object, bot/app/services.py) empties it at the next lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from bot.core.domain import Library, Reply


class ReplyCache:
    """At most ``capacity`` replies for the current library; past that the oldest go first."""

    def __init__(self, library: Callable[[], Library], capacity: int = 512) -> None:
        self._library = library
        self._capacity = capacity
        self._composed_from: Library | None = None
        self._replies: dict[Hashable, Reply] = {}
        self.composed = 0  # how many replies were composed rather than found (tests, bench)

    def get(self, key: Hashable, compose: Callable[[], Reply]) -> Reply:
        """The reply for ``key`` (which names the reply and the reader's lang and locale)."""
        library = self._library()
        if library is not self._composed_from:
            self._replies.clear()
            self._composed_from = library
        found = self._replies.get(key)
        if found is not None:
            return found
        reply = compose()
        self.composed += 1
        if len(self._replies) >= self._capacity:
            del self._replies[next(iter(self._replies))]
        self._replies[key] = reply
        return reply
