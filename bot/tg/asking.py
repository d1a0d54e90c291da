"""Answer a question in Telegram: extractive by default, LLM-phrased when configured."""

from __future__ import annotations

from bot.chat import Who
from bot.tg.context import BotContext
from bot.tg.send import send_reply


async def answer_question(context: BotContext, who: Who, question: str) -> None:
    conversation = context.services.conversation
    refusal = conversation.refuse_question(who, question)
    if refusal is not None:
        await send_reply(context, who.chat, refusal)
        return
    asked = conversation.ask(who, question)
    await send_reply(context, who.chat, asked.reply)
