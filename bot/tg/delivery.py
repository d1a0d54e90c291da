"""Digest delivery over Telegram: the Sender for DigestService, and the per-minute sweep job."""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.core.domain import Reply
from bot.digests.sweep import Outcome
from bot.tg.context import BotContext
from bot.tg.send import deliver

log = logging.getLogger(__name__)
SWEEP_SECONDS = 60
# Several replicas: how often one that is not sweeping looks for claimable digests (queued by
# another, or left by a dead one once its lease ended). One cheap indexed query.
POLL_SECONDS = 2.0


class TelegramSender:
    """Sends a digest; flood control is AIORateLimiter's job (it waits on RetryAfter)."""

    def __init__(self, bot: ExtBot[None], *, paid_broadcast: bool = False) -> None:
        self._bot = bot
        self._paid = paid_broadcast

    async def send(
        self,
        chat_id: int,
        reply: Reply,
        *,
        skip: int = 0,
        on_part: Callable[[int], None] | None = None,
    ) -> Outcome:
        try:
            await deliver(
                self._bot,
                chat_id,
                reply,
                retries=3,
                paid_broadcast=self._paid,
                skip=skip,
                on_part=on_part,
            )
        except Forbidden as exc:
            log.info("digest refused, subscriber set inactive: %s", exc.message)
            return "blocked"
        except (NetworkError, RetryAfter, TelegramError) as exc:
            log.warning("digest not delivered, left for the next sweep: %s", exc.message)
            return "failed"
        return "sent"


async def sweep(context: BotContext) -> None:
    """Every minute: deliver the digests due now (the clock comes from the services)."""
    services = context.services
    sender = TelegramSender(context.bot, paid_broadcast=services.settings.allow_paid_broadcast)
    if services.fleet is not None:
        await services.fleet.sweep(sender, services.clock())
        return
    await services.digests.sweep(sender, services.clock())


async def poll_queue(context: BotContext) -> None:
    """Between sweeps, with several replicas: deliver what the shared queue holds."""
    services = context.services
    if services.fleet is None:
        return
    sender = TelegramSender(context.bot, paid_broadcast=services.settings.allow_paid_broadcast)
    await services.fleet.poll(sender, services.clock())
