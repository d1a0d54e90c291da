"""Send a rendered Reply, degrading to plain text when Telegram rejects our markup."""

from __future__ import annotations

import logging

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.domain import Reply
from bot.render_text import render_plain
from bot.textsplit import TELEGRAM_TEXT_LIMIT, chunk_text
from bot.tg.context import BotContext
from bot.tg.render import keyboard, render_html

log = logging.getLogger(__name__)
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def send_reply(context: BotContext, chat_id: int, reply: Reply) -> None:
    """Send every part of ``reply``; the keyboard goes under the last part."""
    parts = render_html(reply)
    markup = keyboard(reply)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        try:
            await context.bot.send_message(
                chat_id,
                part,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if last else None,
                link_preview_options=_NO_PREVIEW,
            )
        except BadRequest as exc:
            if "can't parse entities" not in exc.message.lower():
                raise
            # Our renderer escapes everything, so this means a renderer bug: tell the
            # operator, and still give the user the content.
            log.error("Telegram refused our HTML (%s); resending as plain text", exc.message)
            await _send_plain(context, chat_id, reply)
            return


async def _send_plain(context: BotContext, chat_id: int, reply: Reply) -> None:
    chunks = chunk_text(render_plain(reply), TELEGRAM_TEXT_LIMIT)
    for index, chunk in enumerate(chunks):
        await context.bot.send_message(
            chat_id,
            chunk,
            reply_markup=keyboard(reply) if index == len(chunks) - 1 else None,
            link_preview_options=_NO_PREVIEW,
        )
