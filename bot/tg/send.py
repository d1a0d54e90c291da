"""Send a rendered Reply: HTML, split under Telegram's limit, resumed where Telegram refused.

When Telegram refuses one message of several ("message is too long", or HTML it cannot parse,
which would be a renderer bug), only that message and the ones after it are sent again,
shorter or as plain text: what was delivered is never delivered twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from telegram import InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError
from telegram.ext import ExtBot
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from bot.core.domain import Reply
from bot.core.textsplit import TELEGRAM_TEXT_LIMIT, Piece, pack, pack_groups
from bot.tg.context import BotContext
from bot.tg.render import fit, keyboard, render_reply, reply_pieces

CAPTION_LIMIT = 1024  # Telegram's, in UTF-16 units after entity parsing

log = logging.getLogger(__name__)
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Telegram counts after entity parsing; if it still finds a message too long, shorter parts.
SHORTER = 3500


def safe_to_retry(error: BaseException) -> bool:
    """Timeouts, resets and 5xx are retried; a BadRequest (a NetworkError in PTB) is final.

    A timeout or a reset after Telegram accepted the message cannot be told apart from one
    before it: retrying them means such a message can arrive twice (docs/DIGESTS.md).
    """
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


async def send_reply(context: BotContext, chat_id: int, reply: Reply) -> None:
    """A reply to a user; network failures go to the error handler."""
    if reply.chart is not None:
        await send_chart(context, chat_id, reply)
        return
    await deliver(context.bot, chat_id, reply, retries=1)
    if reply.facts:
        # Delivered: this chat now knows these revisions (corrections go by it).
        services = context.services
        services.receipts.record(chat_id, reply.facts, services.clock(), reply.lang)


def caption_of(reply: Reply) -> str:
    """The reply's blocks as an HTML caption: whole blocks only, within Telegram's limit."""
    messages = pack(fit(reply_pieces(reply), CAPTION_LIMIT), CAPTION_LIMIT)
    return messages[0] if messages else ""


async def send_chart(context: BotContext, chat_id: int, reply: Reply) -> None:
    """A chart as a photo: drawn off the event loop and uploaded once, then sent by file_id."""
    chart = reply.chart
    assert chart is not None
    charts = context.services.charts
    caption = caption_of(reply)
    markup = keyboard(reply)
    file_id = charts.file_id(chart)
    if file_id is not None:
        try:
            await context.bot.send_photo(
                chat_id, file_id, caption=caption, parse_mode=ParseMode.HTML, reply_markup=markup
            )
            return
        except BadRequest as exc:
            if "file" not in exc.message.lower():
                raise
            log.warning("Telegram forgot chart %s (%s); uploading again", chart.key, exc.message)
            charts.forget(chart)
    png = await asyncio.to_thread(charts.png, chart)
    message = await context.bot.send_photo(
        chat_id,
        png,
        caption=caption,
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        filename=f"{chart.topic}-{chart.lang}.png",
    )
    if message.photo:
        charts.remember(chart, message.photo[-1].file_id)


async def deliver(
    bot: ExtBot[None],
    chat_id: int,
    reply: Reply,
    *,
    retries: int = 1,
    paid_broadcast: bool = False,
    skip: int = 0,
    on_part: Callable[[int], None] | None = None,
) -> None:
    """Send every part of ``reply`` after the first ``skip``; the keyboard goes under the last
    part; ``on_part(n)`` is called once the first n parts are delivered."""
    cached, markup = render_reply(reply)
    groups = [list(group) for group in cached]
    index, limit = min(skip, len(groups)), TELEGRAM_TEXT_LIMIT
    while index < len(groups):
        group = groups[index]
        last = index == len(groups) - 1
        try:
            await _send(
                bot,
                chat_id,
                "\n".join(p.markup for p in group),
                ParseMode.HTML,
                markup if last else None,
                retries,
                paid_broadcast,
            )
        except BadRequest as exc:
            remaining = [piece for g in groups[index:] for piece in g]
            reason = exc.message.lower()
            if "too long" in reason and limit > SHORTER:
                limit = SHORTER
                groups = groups[:index] + pack_groups(fit(remaining, limit), limit)
                continue
            if "can't parse entities" not in reason:
                raise
            # Our renderer escapes everything, so this is a renderer bug: tell the operator,
            # and still give the user the content.
            log.error("Telegram refused our HTML (%s); the rest goes as plain text", exc.message)
            await _send_plain(bot, chat_id, remaining, markup, retries, paid_broadcast)
            return
        index += 1
        if on_part is not None:
            on_part(index)


async def _send_plain(
    bot: ExtBot[None],
    chat_id: int,
    pieces: list[Piece],
    markup: InlineKeyboardMarkup | None,
    retries: int,
    paid_broadcast: bool,
) -> None:
    plain = [Piece(p.visible, p.visible) for p in pieces]
    groups = pack_groups(fit(plain, TELEGRAM_TEXT_LIMIT), TELEGRAM_TEXT_LIMIT)
    for index, group in enumerate(groups):
        last = index == len(groups) - 1
        await _send(
            bot,
            chat_id,
            "\n".join(p.markup for p in group),
            None,
            markup if last else None,
            retries,
            paid_broadcast,
        )


async def _send(
    bot: ExtBot[None],
    chat_id: int,
    text: str,
    parse_mode: str | None,
    markup: InlineKeyboardMarkup | None,
    retries: int,
    paid_broadcast: bool,
) -> None:
    async def send() -> None:
        await bot.send_message(
            chat_id,
            text,
            parse_mode=parse_mode,
            reply_markup=markup,
            link_preview_options=_NO_PREVIEW,
            allow_paid_broadcast=paid_broadcast or None,
        )

    if retries <= 1:
        # A reply gets one attempt: tenacity's machinery, built anew for each message, would
        # only re-raise (3% of the bot's CPU under bench/soak.py).
        await send()
        return
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(safe_to_retry),
        wait=wait_random_exponential(multiplier=0.5, max=8),
        stop=stop_after_attempt(retries),
        reraise=True,
    ):
        with attempt:
            await send()
