"""Questions: /ask anywhere, plain text in private chats, text addressed to the bot in groups."""

from __future__ import annotations

from telegram import Message, MessageEntity, Update
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
    mention = _mention_of_bot(message, f"@{bot_username}".lower())
    if mention is None and not _replies_to_bot(message, bot_id):
        return None
    cleaned = message.text if mention is None else _cut(message.text, mention)
    return " ".join(cleaned.split())


def _mention_of_bot(message: Message, mention: str) -> MessageEntity | None:
    """The first entity that @mentions the bot (``mention`` is "@username", lower-case)."""
    for entity, text in message.parse_entities(["mention"]).items():
        if entity.type == "mention" and text.lower() == mention:
            return entity
    return None


def _replies_to_bot(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def _cut(text: str, entity: MessageEntity) -> str:
    """``text`` without ``entity``: cut where Telegram says it is (in UTF-16 code units), not
    where a lookalike might be."""
    utf16 = text.encode("utf-16-le")
    start, end = entity.offset * 2, (entity.offset + entity.length) * 2
    return (utf16[:start] + utf16[end:]).decode("utf-16-le")


async def question(update: Update, context: BotContext) -> None:
    """Answer text addressed to the bot from the fact store (and the LLM when configured)."""
    text_ = question_text(update, context.bot.username, context.bot.id)
    if text_ is None:
        return
    await answer_question(context, who_of_chat(update), text_)


async def ask(update: Update, context: BotContext) -> None:
    """/ask <question>, anywhere."""
    await answer_question(context, who_of_chat(update), argument_of(context))
