"""Updates of different chats handled at once, each chat's own in the order they came.

PTB's default handles one update at a time: while a command's reply is on its way to Telegram
(a round trip of milliseconds, longer to the real API), every other chat waits, and the process
idles with work queued (bench/soak.py: most of the p99 at 200 updates/s was that queue).
PTB's concurrent mode alone would let one user's two button presses be answered out of order;
here an update waits for the previous update of its chat (or of its user, for updates without
a chat: inline queries), and nothing else.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)
# How long a getUpdates or a webhook delivery waits for room before it goes ahead anyway: if
# the count of unfinished updates were ever wrong, the bot must slow down, not stop. (Telegram
# waits about a minute for the answer to a delivery before it tries again.)
ROOM_WAIT = 30.0


async def within_room(
    room: Callable[[int], Awaitable[None]], count: int, within: float, going_on: str
) -> None:
    """Await ``room(count)`` for at most ``within`` seconds; past that, warn and go on."""
    try:
        await asyncio.wait_for(room(count), within)
    except TimeoutError:
        log.warning("no room for more updates after %.0f s; %s anyway", within, going_on)


def order_key(update: object) -> Hashable | None:
    """Which updates must be handled one after another: those of one chat (or one user)."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    return None


class PerChatOrder(BaseUpdateProcessor):
    """Up to ``max_concurrent_updates`` updates at once, one chat's one after another; and at
    most ``backlog`` fetched and not finished, so that a bot offered more than it can handle
    leaves the rest at Telegram (``room``, awaited before each getUpdates) instead of holding
    a growing queue of waiting tasks: at 750 updates/s offered to a bot that handles 550, the
    soak's held tasks grew without end, and with them every full collection (87 to 421 ms)."""

    # A few dozen hide Telegram's round trips; more would only hold more connections and
    # memory while the process is busy (questions run as tasks of their own anyway).
    def __init__(self, max_concurrent_updates: int = 32, backlog: int = 512) -> None:
        super().__init__(max_concurrent_updates)
        self._last: dict[Hashable, asyncio.Future[None]] = {}
        self.backlog = backlog
        self.finished = 0  # updates handled so far (PTB hands every fetched update here)
        self._progress: asyncio.Event | None = None

    async def room(self, fetched: int) -> None:
        """Return once fewer than ``backlog`` of the ``fetched`` updates are unfinished."""
        while fetched - self.finished >= self.backlog:
            if self._progress is None:
                self._progress = asyncio.Event()
            self._progress.clear()
            await self._progress.wait()

    def _finished_one(self) -> None:
        self.finished += 1
        if self._progress is not None:
            self._progress.set()

    @property
    def chats_in_flight(self) -> int:
        """Chats with an update being handled or waiting (what the processor holds)."""
        return len(self._last)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = order_key(update)
        if key is None:
            try:
                await coroutine
            finally:
                self._finished_one()
            return
        previous = self._last.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[key] = done
        started = False
        try:
            if previous is not None:
                # Its outcome is not ours: a failed update is the error handler's, and the
                # next one still runs (shield: our cancellation must not cancel it).
                await asyncio.shield(previous)
            started = True
            await coroutine
        finally:
            if not started and inspect.iscoroutine(coroutine):
                coroutine.close()  # cancelled while waiting its turn: never to run
            done.set_result(None)
            if self._last.get(key) is done:
                del self._last[key]
            self._finished_one()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: PTB waits for the updates in flight before this."""


class AdmittingQueue(asyncio.Queue[object]):
    """The application's update queue. In webhook mode (``room`` set) an update is put only
    once the bot has room for it, and PTB's webhook handler answers Telegram's POST only after
    the put: an overloaded bot leaves its backlog at Telegram, which sends a connection's next
    update once the last is answered (``max_connections`` of them at once), as getUpdates
    waits for room in polling mode (bot/tg/request.py). PTB's own signals are never held."""

    def __init__(self) -> None:
        super().__init__()
        self.room: Callable[[int], Awaitable[None]] | None = None
        self.admitted = 0  # updates put so far

    async def put(self, item: object) -> None:
        if self.room is not None and isinstance(item, Update):
            await within_room(self.room, self.admitted, ROOM_WAIT, "taking one")
            self.admitted += 1
        await super().put(item)
