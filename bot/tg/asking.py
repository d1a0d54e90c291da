"""Answer a question in Telegram: extractive by default, LLM-phrased when configured.

Nothing the guard has not accepted is ever shown. At once, before the model is asked, private
chats get a draft (sendMessageDraft) and groups a placeholder saying that the answer is being
rephrased; while the model writes, they show only the sentences that passed the grounding guard
(bot/qa/phrasing.py), at most once a second; the answer always ends as one final message, the
phrased one if the whole of it passed within the deadline, else the extract.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import replace

from telegram.error import TelegramError

from bot.core.domain import Block, Reply, Who
from bot.core.textsplit import TELEGRAM_TEXT_LIMIT, chunk_text
from bot.tg.context import BotContext
from bot.tg.send import send_reply

log = logging.getLogger(__name__)
PROGRESS_INTERVAL = 1.0
_draft_ids = itertools.count(1)


class ProgressView:
    """Shows a growing answer without exceeding Telegram's per-chat rate."""

    def __init__(self, context: BotContext, chat_id: int, private: bool) -> None:
        self._context = context
        self._chat_id = chat_id
        self._private = private
        self._draft_id = next(_draft_ids)
        self._placeholder: int | None = None
        self._last_at = 0.0
        self._last_text = ""

    async def start(self, note: str) -> None:
        """The first reply, within a moment of the question: a note, no model text."""
        await self._show(note)

    async def update(self, text: str) -> None:
        """``text``: the guarded sentences so far (never raw model output)."""
        now = time.monotonic()
        text = chunk_text(text, TELEGRAM_TEXT_LIMIT - 2)[-1] + " …" if text.strip() else ""
        if not text or text == self._last_text or now - self._last_at < PROGRESS_INTERVAL:
            return
        await self._show(text)

    async def _show(self, text: str) -> None:
        self._last_at, self._last_text = time.monotonic(), text
        bot = self._context.bot
        try:
            if self._private:
                await bot.send_message_draft(self._chat_id, self._draft_id, text)
            elif self._placeholder is None:
                message = await bot.send_message(self._chat_id, text)
                self._placeholder = message.message_id
            else:
                await bot.edit_message_text(text, self._chat_id, self._placeholder)
        except TelegramError as exc:
            # Progress is a courtesy; the final message is what matters.
            log.info("progress update skipped: %s", exc.message)

    async def finish(self, reply: Reply) -> None:
        if self._placeholder is not None:
            try:
                await self._context.bot.delete_message(self._chat_id, self._placeholder)
            except TelegramError as exc:
                log.info("could not remove the progress message: %s", exc.message)
        await send_reply(self._context, self._chat_id, reply)


async def answer_question(context: BotContext, who: Who, question: str) -> None:
    services = context.services
    engine = services.engine
    refusal = engine.refuse(who, question)
    if refusal is not None:
        await send_reply(context, who.chat, refusal)
        return
    asked = engine.ask(who, question)
    phraser = services.phraser
    if phraser is None or not asked.answer.found:
        await send_reply(context, who.chat, asked.reply)
        return
    tr = services.languages.translator_for_lang(who, asked.reply.lang)
    if not phraser.allow(who.user_id):
        note = tr.gettext(
            "You have reached the hourly limit of rephrased answers; here is the sourced extract."
        )
        limited = Reply(
            asked.reply.lang, (Block("note", note), *asked.reply.blocks), asked.reply.buttons
        )
        await send_reply(context, who.chat, limited)
        return
    view = ProgressView(context, who.chat, private=who.chat == who.user_id)
    await view.start(tr.gettext("Rephrasing the sourced answer…"))
    knowledge = services.knowledge()
    with services.stats.llm_seconds.time():
        phrased = await phraser.phrase(
            asked, knowledge.library, tr, progress=view.update, lexicon=knowledge.lexicon
        )
    services.stats.phrased(phrased.reason)
    services.stats.llm_misconfigured = phraser.misconfigured
    # The phrasing cites the same facts: its reader was told the same revisions.
    final = replace(phrased.reply, facts=asked.reply.facts) if phrased.reply else asked.reply
    await view.finish(final)
