"""Long polling is one process per bot token: say so when another process polls it.

Telegram answers overlapping getUpdates calls with 409 Conflict ("terminated by other
getUpdates request"), and PTB retries those forever, so two pollers on one token both limp
along, each losing updates to the other, with a stack trace in the log every second. Several
replicas need webhook mode (BOT_WEBHOOK_URL, with a load balancer; see deploy/README.md).

The process that was there first has completed polls; the newcomer has not. A conflict
before this process's first completed poll therefore means another process already polls
this token: it logs one clear line and stops, and ``python -m bot run`` exits with its own
code. A conflict after that means a newcomer: this process logs it and keeps polling (the
newcomer stops itself).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram.error import Conflict

from bot.tg.context import BotContext

log = logging.getLogger(__name__)


class PollingConflict(RuntimeError):
    """Another process polls Telegram for this bot token."""


@dataclass
class ConflictWatch:
    found: str | None = None  # Telegram's description, once this process gave way
    warned: bool = False


def watch_polling_conflicts(application: Any) -> ConflictWatch:
    """Register the handler that tells a conflict apart; ``found`` is set if this process
    must give way (run() then raises PollingConflict)."""
    watch = ConflictWatch()
    tracked = application.bot_data.updates_request

    async def on_conflict(update: object, context: BotContext) -> None:
        error = context.error
        if update is not None or not isinstance(error, Conflict) or watch.found is not None:
            return
        if "webhook" in error.message.lower():
            return  # PTB deletes our own webhook before polling; not another poller
        if tracked is None or tracked.ok_answers == 0:
            watch.found = error.message
            log.error(
                "another process is already long-polling Telegram for this bot token "
                "(Telegram answered: %s). Long polling is one process per token: stop the "
                "other one, or run several replicas in webhook mode (BOT_WEBHOOK_URL). "
                "Stopping.",
                error.message,
            )
            services = context.bot_data.services
            if services is not None:
                services.digests.request_stop()
            context.application.stop_running()
        elif not watch.warned:
            watch.warned = True
            log.warning(
                "a second process started long-polling this bot token (Telegram answered: "
                "%s); this one keeps polling and the newcomer stops itself",
                error.message,
            )

    application.add_error_handler(on_conflict)
    return watch
