"""Questions: /ask anywhere, plain text in private chats, text addressed to the bot in groups."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType

from bot.tg.asking import answer_question
from bot.tg.context import BotContext
from bot.tg.updates import argument_of, who_of_chat


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
    await answer_question(context, who_of_chat(update), argument_of(context))
