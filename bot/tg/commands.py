"""Command handlers, one per entry of the command table (bot/app/commands.py)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.constants import ChatType

from bot.app.commands import Command
from bot.tg.context import BotContext
from bot.tg.send import send_reply
from bot.tg.updates import argument_of, chat_id_of, may_manage_digest, who_of, who_of_chat

Callback = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def command_callback(command: Command) -> Callback:
    """Parse the update, let the router answer, send the reply."""
    route = command.route
    if route is None:
        raise ValueError(f"/{command.name} has no route")

    async def handle(update: Update, context: BotContext) -> None:
        if command.manages_digest and not await may_manage_digest(update, context):
            return
        who = who_of_chat(update) if command.per_chat else who_of(update)
        reply = route(context.services.router, who, argument_of(context))
        await send_reply(context, chat_id_of(update), reply)

    handle.__name__ = handle.__qualname__ = f"command_{command.name}"
    return handle


async def unknown_command(update: Update, context: BotContext) -> None:
    """Hint at /help for a command we do not have, unless it was meant for another bot."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command, _, target = message.text.split()[0][1:].partition("@")
    chat = update.effective_chat
    private = chat is not None and chat.type == ChatType.PRIVATE
    # In a group an unknown command may be another bot's: answer only when it names us.
    if (target and target.lower() != context.bot.username.lower()) or (not private and not target):
        return
    reply = context.services.router.unknown_command(who_of(update), command)
    await send_reply(context, chat_id_of(update), reply)


async def other_message(update: Update, context: BotContext) -> None:
    """Stickers, photos, voice… in a private chat get a hint, not silence."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    reply = context.services.router.unsupported(who_of(update))
    await send_reply(context, chat.id, reply)
