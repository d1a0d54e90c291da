"""Reading an update: who sent it, to which chat, with which argument; the flood gate."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.app.logsetup import chat_ref, chat_reference, update_id
from bot.core.domain import Block, Reply, Who
from bot.tg.context import BotContext
from bot.tg.send import send_reply

log = logging.getLogger(__name__)


def who_of(update: Update) -> Who:
    user = update.effective_user
    if user is None:
        chat = update.effective_chat
        return Who(chat.id if chat else 0, None)
    return Who(user.id, user.language_code)


def who_of_chat(update: Update) -> Who:
    """The sender, with the chat the answer goes to (memory is kept per chat)."""
    who = who_of(update)
    chat = update.effective_chat
    return Who(who.user_id, who.language_code, chat.id if chat else None)


def chat_id_of(update: Update) -> int:
    chat = update.effective_chat
    if chat is None:
        raise ValueError("update without a chat")
    return chat.id


def argument_of(context: BotContext) -> str:
    return " ".join(context.args or ())


def _update_type(update: Update) -> str:
    """The Bot API field that carries this update: message, callback_query, …"""
    kinds = (
        "message",
        "edited_message",
        "callback_query",
        "inline_query",
        "chosen_inline_result",
        "channel_post",
        "my_chat_member",
    )
    for name in kinds:
        if getattr(update, name, None) is not None:
            return name
    return "other"


async def answer_query(query: CallbackQuery) -> None:
    """Stop the button's spinner. After downtime Telegram refuses answers to old presses
    ("query is too old"); the press is still acted on."""
    try:
        await query.answer()
    except BadRequest as exc:
        log.info("button press could not be answered: %s", exc.message)


async def up_to_date(update: Update, context: BotContext) -> None:
    """Other replicas' writes committed before this update are applied before it is handled
    (PostgreSQL; see docs/STORAGE.md)."""
    await context.services.fresh()


async def flood_gate(update: Update, context: BotContext) -> None:
    """Stop updates from a user who floods the bot; they are told once, then ignored."""
    kind = _update_type(update)
    context.services.stats.updates.labels(kind).inc()
    update_id.set(update.update_id)
    if update.effective_chat is not None:
        chat_ref.set(chat_reference(update.effective_chat.id, context.bot.token))
    # The kind of update only: what people write is never logged at INFO.
    log.info("handling a %s", kind)
    user = update.effective_user
    if user is None:
        return
    verdict = context.services.flood.check(user.id)
    if verdict == "ok":
        return
    if update.callback_query is not None:
        # Every press is answered, even a flooded one, so the client stops its spinner.
        await answer_query(update.callback_query)
    if verdict == "warn" and update.effective_chat is not None:
        tr = context.services.languages.translator_for(who_of(update))
        text = tr.gettext("You are sending messages too fast; I will answer again in a moment.")
        await send_reply(context, update.effective_chat.id, Reply(tr.lang, (Block("text", text),)))
    raise ApplicationHandlerStop


async def may_manage_digest(update: Update, context: BotContext) -> bool:
    """In a group only its administrators change the group's digest; they are told why not."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or chat.type == ChatType.PRIVATE:
        return True
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.info("could not check group membership: %s", exc.message)
        return False
    if member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
        return True
    tr = context.services.languages.translator_for(who_of(update))
    text = tr.gettext("Only this group's administrators can change its daily digest.")
    await send_reply(context, chat.id, Reply(tr.lang, (Block("text", text),)))
    return False
