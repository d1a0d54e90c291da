"""Digest delivery over Telegram: the Sender for DigestService, and the per-minute sweep job."""

from __future__ import annotations

import logging

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from bot.digests import Outcome
from bot.domain import Reply
from bot.tg.context import BotContext
from bot.tg.render import keyboard, render_html

log = logging.getLogger(__name__)
SWEEP_SECONDS = 60
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Telegram counts the limit after entity parsing; when it still says "too long", shorter
# parts are the fix.
_SHORTER = 3500


def _transient(error: BaseException) -> bool:
    """Timeouts, resets and 5xx; a BadRequest (a NetworkError in PTB) is not transient."""
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


class TelegramSender:
    """Sends a digest; flood control is AIORateLimiter's job (it waits on RetryAfter)."""

    def __init__(self, bot: ExtBot[None], *, paid_broadcast: bool = False) -> None:
        self._bot = bot
        self._paid = paid_broadcast

    async def send(self, chat_id: int, reply: Reply) -> Outcome:
        try:
            await self._send_parts(chat_id, reply, render_html(reply))
        except Forbidden as exc:
            log.info("digest refused, subscriber set inactive: %s", exc.message)
            return "blocked"
        except BadRequest as exc:
            if "too long" not in exc.message.lower():
                log.warning("digest rejected by Telegram: %s", exc.message)
                return "failed"
            await self._send_parts(chat_id, reply, render_html(reply, limit=_SHORTER))
        except (NetworkError, RetryAfter, TelegramError) as exc:
            log.warning("digest not delivered, left for the next sweep: %s", exc.message)
            return "failed"
        return "sent"

    async def _send_parts(self, chat_id: int, reply: Reply, parts: list[str]) -> None:
        for part in parts:
            # Network errors and 5xx are retried with backoff; Forbidden and BadRequest are
            # not transient and go straight to the caller.
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_transient),
                wait=wait_random_exponential(multiplier=0.5, max=8),
                stop=stop_after_attempt(3),
                reraise=True,
            ):
                with attempt:
                    await self._bot.send_message(
                        chat_id,
                        part,
                        parse_mode=ParseMode.HTML,
                        link_preview_options=_NO_PREVIEW,
                        allow_paid_broadcast=self._paid or None,
                        reply_markup=keyboard(reply) if part is parts[-1] else None,
                    )


async def sweep(context: BotContext) -> None:
    """Every minute: deliver the digests due now (the clock comes from the services)."""
    services = context.services
    sender = TelegramSender(context.bot, paid_broadcast=services.settings.allow_paid_broadcast)
    await services.digests.sweep(sender, services.clock())
