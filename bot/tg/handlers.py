"""Thin handlers: parse the update, ask the conversation, render and reply."""

from __future__ import annotations

import logging
from typing import Any

from telegram import CallbackQuery, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ApplicationHandlerStop, ExtBot

from bot.app.chat import Who
from bot.app.logsetup import chat_ref, chat_reference, update_id
from bot.core.domain import Block, Reply
from bot.store.broadcasts import Broadcast
from bot.tg.asking import answer_question
from bot.tg.context import BotContext, BotData
from bot.tg.delivery import TelegramSender
from bot.tg.send import deliver, send_reply

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


def _update_type(update: Update) -> str:
    """The Bot API field that carries this update: message, callback_query, …"""
    for name in ("message", "edited_message", "callback_query", "channel_post", "my_chat_member"):
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
        tr = context.services.conversation.translator_for(who_of(update))
        text = tr.gettext("You are sending messages too fast; I will answer again in a moment.")
        await send_reply(context, update.effective_chat.id, Reply(tr.lang, (Block("text", text),)))
    raise ApplicationHandlerStop


async def start(update: Update, context: BotContext) -> None:
    """Greet the user in their language and show the topic keyboard."""
    # The chat's own digest comes back: in a group, the group's, not the sender's private one.
    reply = context.services.conversation.start(who_of_chat(update))
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
    tr = context.services.conversation.translator_for(who_of(update))
    text = tr.gettext("Only this group's administrators can change its daily digest.")
    await send_reply(context, chat.id, Reply(tr.lang, (Block("text", text),)))
    return False


async def subscribe(update: Update, context: BotContext) -> None:
    """Subscribe to the daily digest: a menu, or a time and zone given at once."""
    if not await may_manage_digest(update, context):
        return
    reply = context.services.conversation.subscribe(who_of_chat(update), _argument(context))
    await send_reply(context, _chat_id(update), reply)


async def settings(update: Update, context: BotContext) -> None:
    """Show the subscription with buttons to change it."""
    if not await may_manage_digest(update, context):
        return
    reply = context.services.conversation.settings(who_of_chat(update))
    await send_reply(context, _chat_id(update), reply)


async def unsubscribe(update: Update, context: BotContext) -> None:
    """Ask for confirmation before stopping the digest."""
    if not await may_manage_digest(update, context):
        return
    reply = context.services.conversation.unsubscribe(who_of_chat(update))
    await send_reply(context, _chat_id(update), reply)


async def _not_for_you(update: Update, context: BotContext) -> bool:
    """Admin commands look like unknown commands to everyone else."""
    who = who_of(update)
    if context.services.admin.allowed(who.user_id):
        return False
    message = update.effective_message
    command = (message.text or "/").split()[0][1:].split("@")[0] if message else ""
    reply = context.services.conversation.unknown_command(who, command)
    await send_reply(context, _chat_id(update), reply)
    return True


async def stats(update: Update, context: BotContext) -> None:
    """Admins: users, subscribers, digests today, questions and LLM fallbacks."""
    if await _not_for_you(update, context):
        return
    services = context.services
    tr = services.conversation.translator_for(who_of(update))
    await send_reply(context, _chat_id(update), services.admin.stats(tr, services.clock()))


async def reload(update: Update, context: BotContext) -> None:
    """Admins: re-read content/ and say what changed."""
    if await _not_for_you(update, context):
        return
    tr = context.services.conversation.translator_for(who_of(update))
    await send_reply(context, _chat_id(update), context.services.admin.reload(tr))


async def broadcast(update: Update, context: BotContext) -> None:
    """Admins: preview a message to all subscribers, sent only after confirmation."""
    if await _not_for_you(update, context):
        return
    who = who_of(update)
    tr = context.services.conversation.translator_for(who)
    message = update.effective_message
    text = (message.text or "").partition(" ")[2] if message else ""
    services = context.services
    reply = services.admin.prepare_broadcast(
        tr, who.user_id, _chat_id(update), text, services.clock()
    )
    await send_reply(context, _chat_id(update), reply)


async def _broadcast_button(update: Update, context: BotContext, answer: str, ident: str) -> None:
    services = context.services
    who = who_of(update)
    tr = services.conversation.translator_for(who)
    chat_id = _chat_id(update)
    if not services.admin.allowed(who.user_id):
        reply = services.conversation.action(who, None)
    elif answer == "no":
        if services.admin.cancel_broadcast(who.user_id, ident, services.clock()):
            reply = Reply(tr.lang, (Block("text", tr.gettext("Broadcast cancelled.")),))
        else:
            reply = services.conversation.action(who, None)
    else:
        confirmed = services.admin.take_broadcast(who.user_id, ident, services.clock())
        if confirmed is None:
            reply = services.conversation.action(who, None)
        else:
            start_broadcast(context.application, confirmed)
            reply = Reply(tr.lang, (Block("text", tr.gettext("Broadcast started.")),))
    await send_reply(context, chat_id, reply)


def start_broadcast(app: Application[Any, Any, Any, Any, BotData, Any], sent: Broadcast) -> None:
    """Runs a confirmed broadcast in the background; the admin hears when it is done."""
    app.create_task(_run_broadcast(app.bot, app.bot_data, sent), name=f"broadcast-{sent.id}")


async def _run_broadcast(bot: ExtBot[None], bot_data: BotData, sent: Broadcast) -> None:
    services = bot_data.require_services()
    assert sent.day is not None  # fixed when it was confirmed
    ledger = services.admin.broadcast_ledger(sent.id)
    try:
        sender = TelegramSender(bot, paid_broadcast=services.settings.allow_paid_broadcast)
        report = await services.digests.broadcast(
            sender, ledger, sent.text, services.clock(), sent.day
        )
    finally:
        ledger.close()
    if report.counts.get("deferred"):
        return  # cut short by a shutdown: still running, resumed at the next start
    services.admin.finish_broadcast(sent, str(report))
    tr = services.conversation.translator_for(Who(sent.chat_id))
    done = tr.gettext("Broadcast finished: {report}.").format(report=report)
    await deliver(bot, sent.chat_id, Reply(tr.lang, (Block("text", done),)))


async def button(update: Update, context: BotContext) -> None:
    """Answer a button press; the spinner is always stopped, even for a forged button."""
    query = update.callback_query
    if query is None:
        return
    await answer_query(query)
    if query.data and query.data.startswith("v1:bc:") and query.data.count(":") == 3:
        _, _, answer, ident = query.data.split(":")
        await _broadcast_button(update, context, answer, ident)
        return
    chat_id = query.message.chat.id if query.message else query.from_user.id
    digest_button = (query.data or "").split(":")[1:2] in (["subt"], ["subz"], ["set"], ["unsub"])
    if digest_button and not await may_manage_digest(update, context):
        return
    who = who_of(update)
    reply = context.services.conversation.action(
        Who(who.user_id, who.language_code, chat_id), query.data
    )
    await send_reply(context, chat_id, reply)


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
    reply = context.services.conversation.unknown_command(who_of(update), command)
    await send_reply(context, _chat_id(update), reply)


async def other_message(update: Update, context: BotContext) -> None:
    """Stickers, photos, voice… in a private chat get a hint, not silence."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    reply = context.services.conversation.unsupported(who_of(update))
    await send_reply(context, chat.id, reply)


def question_text(update: Update, bot_username: str, bot_id: int) -> str | None:
    """The question in a message, or None when it is not addressed to the bot.

    Private chats: any text. Groups: only when the bot is @mentioned (the mention is removed)
    or when the message replies to one of the bot's messages.
    """
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or message.text is None:
        return None
    if chat.type == ChatType.PRIVATE:
        return message.text
    mention = f"@{bot_username}".lower()
    mentioned = any(
        entity.type == "mention" and text.lower() == mention
        for entity, text in message.parse_entities(["mention"]).items()
    )
    replied = bool(
        message.reply_to_message
        and message.reply_to_message.from_user
        and message.reply_to_message.from_user.id == bot_id
    )
    if not (mentioned or replied):
        return None
    cleaned = message.text
    if mentioned:
        # Cut the mention where Telegram says it is, not where a lookalike might be.
        for entity, text in message.parse_entities(["mention"]).items():
            if text.lower() == mention:
                utf16 = cleaned.encode("utf-16-le")
                start, end = entity.offset * 2, (entity.offset + entity.length) * 2
                cleaned = (utf16[:start] + utf16[end:]).decode("utf-16-le")
                break
    return " ".join(cleaned.split())


async def question(update: Update, context: BotContext) -> None:
    """Answer text addressed to the bot from the fact store (and the LLM when configured)."""
    text_ = question_text(update, context.bot.username, context.bot.id)
    if text_ is None:
        return
    await answer_question(context, who_of_chat(update), text_)


async def ask(update: Update, context: BotContext) -> None:
    """/ask <question>, anywhere."""
    await answer_question(context, who_of_chat(update), _argument(context))


def who_of_chat(update: Update) -> Who:
    """The sender, with the chat the answer goes to (memory is kept per chat)."""
    who = who_of(update)
    chat = update.effective_chat
    return Who(who.user_id, who.language_code, chat.id if chat else None)
