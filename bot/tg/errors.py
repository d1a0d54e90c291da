"""The error handler: log for the operator, apologise to the user, never show a traceback."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, TelegramError

from bot.core.domain import Block, Reply, Who
from bot.tg.context import BotContext
from bot.tg.send import send_reply
from bot.tg.updates import who_of

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure and tell the user, in their language, that it was on our side."""
    error = context.error
    if isinstance(error, Conflict) and update is None:
        return  # a polling conflict: bot/tg/polling.py tells the operator what it means
    if isinstance(error, Forbidden):
        log.info("user blocked the bot or left the chat: %s", error.message)
        return
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        log.warning("Telegram network error: %s", error.message)
    else:
        log.error("error while handling an update", exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    services = context.bot_data.services
    who = who_of(update) if update.effective_user else Who(update.effective_chat.id)
    if services is None:
        return
    tr = services.languages.translator_for(who)
    message = tr.gettext("Sorry, something went wrong on my side. Please try again in a moment.")
    try:
        apology = Reply(tr.lang, (Block("text", message),))
        await send_reply(context, update.effective_chat.id, apology)
    except TelegramError as exc:
        log.warning("could not send the apology either: %s", exc.message)
