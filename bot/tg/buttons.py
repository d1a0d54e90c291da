"""Button presses: digest buttons (group administrators only) and the rest, for the router.

Broadcast buttons are bot/tg/admin.py's; each family is routed by its pattern in
bot/core/actions.py.
"""

from __future__ import annotations

from telegram import Update

from bot.core.domain import Who
from bot.tg.context import BotContext
from bot.tg.send import send_reply
from bot.tg.updates import answer_query, may_manage_digest, who_of


async def digest_button(update: Update, context: BotContext) -> None:
    """A subscription button: only who may manage the chat's digest gets it acted on."""
    query = update.callback_query
    if query is None:
        return
    await answer_query(query)
    if not await may_manage_digest(update, context):
        return
    await _act(update, context)


async def button(update: Update, context: BotContext) -> None:
    """Answer a button press; the spinner is always stopped, even for a forged button."""
    query = update.callback_query
    if query is None:
        return
    await answer_query(query)
    await _act(update, context)


async def _act(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    chat_id = query.message.chat.id if query.message else query.from_user.id
    who = who_of(update)
    reply = context.services.router.action(
        Who(who.user_id, who.language_code, chat_id), query.data
    )
    await send_reply(context, chat_id, reply)
