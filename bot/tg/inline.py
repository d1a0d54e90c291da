"""Inline mode: ``@bot <words>`` in any chat answers with fact cards to send there."""

from __future__ import annotations

import logging

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.core.deeplinks import start_url
from bot.core.domain import InlineCard, Who
from bot.core.textsplit import TELEGRAM_TEXT_LIMIT
from bot.tg.context import BotContext
from bot.tg.render import render_html

log = logging.getLogger(__name__)
CACHE_SECONDS = 300  # results are per user (language, chosen language): is_personal
MAX_RESULTS = 10  # of Telegram's 50
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def article(card: InlineCard, bot_username: str) -> InlineQueryResultArticle:
    """One result: the fact card as HTML, with a button that opens the bot on the fact."""
    # A fact card is a few hundred characters; the limit only guards a curated monster.
    html = render_html(card.reply, TELEGRAM_TEXT_LIMIT)[0]
    markup = None
    if card.start_payload is not None:
        url = start_url(bot_username, card.start_payload)
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(card.open_label, url=url)]])
    return InlineQueryResultArticle(
        id=card.fact_id,
        title=card.title,
        description=card.description,
        input_message_content=InputTextMessageContent(
            html, parse_mode=ParseMode.HTML, link_preview_options=_NO_PREVIEW
        ),
        reply_markup=markup,
    )


async def inline_query(update: Update, context: BotContext) -> None:
    """Parse the query, let the router find the cards, answer."""
    query = update.inline_query
    if query is None:
        return
    who = Who(query.from_user.id, query.from_user.language_code)
    cards = context.services.router.inline(who, query.query, MAX_RESULTS)
    results = [article(card, context.bot.username) for card in cards]
    try:
        await query.answer(results, cache_time=CACHE_SECONDS, is_personal=True)
    except BadRequest as exc:
        # A query the user typed past, or answered after downtime: nothing to show anyway.
        log.info("inline query could not be answered: %s", exc.message)
