"""The newsroom in Telegram (BOT_ADMIN_IDS only): review buttons, the guided conversation's
messages, and the correction runs an approval starts."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, ExtBot

from bot.core.actions import parse_action
from bot.core.domain import Block, Reply, Who
from bot.store.editorial import CorrectionRun
from bot.tg.context import BotContext, BotData
from bot.tg.delivery import TelegramSender
from bot.tg.questions import question
from bot.tg.send import deliver, send_reply
from bot.tg.updates import answer_query, who_of

log = logging.getLogger(__name__)


async def review_button(update: Update, context: BotContext) -> None:
    """A newsroom button; anyone but an admin pressing one gets a stale button."""
    query = update.callback_query
    if query is None:
        return
    await answer_query(query)
    services = context.services
    who = who_of(update)
    chat_id = query.message.chat.id if query.message else who.user_id
    action = parse_action(query.data, services.library())
    if action is None or not services.admin.allowed(who.user_id):
        await send_reply(context, chat_id, services.router.stale(who))
        return
    step, _, argument = action.argument.partition(":")
    tr = services.languages.translator_for(who)
    editor = Who(who.user_id, who.language_code, chat_id)
    result = await services.review.press(tr, editor, step, argument)
    await send_reply(context, chat_id, result.reply)
    if result.run is not None:
        start_corrections(context.application, result.run)


async def review_text(update: Update, context: BotContext) -> None:
    """An admin's message: a step of their draft when one awaits it, else a question."""
    services = context.services
    who = who_of(update)
    message = update.effective_message
    if message is None or message.text is None or not services.review.awaiting_text(who.user_id):
        await question(update, context)
        return
    tr = services.languages.translator_for(who)
    reply = services.review.text(tr, who, message.text)
    if reply is not None:
        await send_reply(context, message.chat_id, reply)


def start_corrections(
    app: Application[Any, Any, Any, Any, BotData, Any], run: CorrectionRun
) -> None:
    """Fans the run's notes out in the background; the editor hears when it is done."""
    app.create_task(_run(app.bot, app.bot_data, run), name=f"corrections-{run.id}")


async def _run(bot: ExtBot[None], bot_data: BotData, run: CorrectionRun) -> None:
    services = bot_data.require_services()
    ledger = services.corrections.ledger(run)
    try:
        sender = TelegramSender(bot, paid_broadcast=services.settings.allow_paid_broadcast)
        jobs = [(chat, run.day, note) for chat, note in services.corrections.notes(run)]
        report = await services.digests.deliver_notes(sender, ledger, jobs, services.clock())
    finally:
        ledger.close()
    if report.counts.get("deferred"):
        return  # cut short by a shutdown: resumed at the next start
    services.corrections.finish(run, str(report))
    tr = services.languages.translator_for(Who(run.editor_chat))
    done = tr.gettext("Corrections for {id} finished: {report}.").format(id=run.id, report=report)
    await deliver(bot, run.editor_chat, Reply(tr.lang, (Block("text", done),)))
