"""Thin handlers: parse the update, ask the conversation, render and reply."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType

from bot.chat import Who
from bot.tg.context import BotContext
from bot.tg.send import send_reply

log = logging.getLogger(__name__)


def who_of(update: Update) -> Who:
    user = update.effective_user
    if user is None:
        chat = update.effective_chat
        return Who(chat.id if chat else 0, None)
    return Who(user.id, user.language_code)


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    if chat is None:
        raise ValueError("update without a chat")
    return chat.id


def _argument(context: BotContext) -> str:
    return " ".join(context.args or ())


async def start(update: Update, context: BotContext) -> None:
    """Greet the user in their language and show the topic keyboard."""
    reply = context.services.conversation.start(who_of(update))
    await send_reply(context, _chat_id(update), reply)


async def help_command(update: Update, context: BotContext) -> None:
    """List the commands."""
    reply = context.services.conversation.help(who_of(update))
    await send_reply(context, _chat_id(update), reply)


async def topics(update: Update, context: BotContext) -> None:
    """List the topics with their buttons."""
    reply = context.services.conversation.topics(who_of(update))
    await send_reply(context, _chat_id(update), reply)


async def brief(update: Update, context: BotContext) -> None:
    """Send the overview, or the briefing of the topic named after the command."""
    reply = context.services.conversation.brief(who_of(update), _argument(context))
    await send_reply(context, _chat_id(update), reply)


async def sources(update: Update, context: BotContext) -> None:
    """List every source behind the facts."""
    reply = context.services.conversation.sources(who_of(update))
    await send_reply(context, _chat_id(update), reply)


async def lang(update: Update, context: BotContext) -> None:
    """Store the user's language choice."""
    reply = context.services.conversation.set_lang(who_of(update), _argument(context))
    await send_reply(context, _chat_id(update), reply)


async def button(update: Update, context: BotContext) -> None:
    """Answer a button press; the spinner is always stopped, even for a forged button."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    reply = context.services.conversation.action(who_of(update), query.data)
    chat_id = query.message.chat.id if query.message else query.from_user.id
    await send_reply(context, chat_id, reply)


async def unknown_command(update: Update, context: BotContext) -> None:
    """Hint at /help for a command we do not have, unless it was meant for another bot."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command, _, target = message.text.split()[0][1:].partition("@")
    if target and target.lower() != context.bot.username.lower():
        return
    reply = context.services.conversation.unknown_command(who_of(update), command)
    await send_reply(context, _chat_id(update), reply)


async def text(update: Update, context: BotContext) -> None:
    """Answer plain text in a private chat."""
    message = update.effective_message
    if message is None:
        return
    reply = context.services.conversation.text(who_of(update), message.text or "")
    await send_reply(context, _chat_id(update), reply)


async def other_message(update: Update, context: BotContext) -> None:
    """Stickers, photos, voice… in a private chat get a hint, not silence."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    reply = context.services.conversation.unsupported(who_of(update))
    await send_reply(context, chat.id, reply)
