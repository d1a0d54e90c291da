"""Admin commands and broadcast buttons (BOT_ADMIN_IDS only); a confirmed broadcast's run."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Update
from telegram.ext import Application, ExtBot

from bot.app.commands import Command
from bot.core.actions import parse_action
from bot.core.domain import Block, Reply, Who
from bot.store.broadcasts import Broadcast
from bot.tg.commands import Callback
from bot.tg.context import BotContext, BotData
from bot.tg.delivery import TelegramSender
from bot.tg.send import deliver, send_reply
from bot.tg.updates import answer_query, chat_id_of, who_of, who_of_chat


def admin_callback(command: Command) -> Callback:
    """An admin command; PTB only calls it for BOT_ADMIN_IDS (filters.User)."""
    route = command.admin_route
    if route is None:
        raise ValueError(f"/{command.name} is not an admin command")

    async def handle(update: Update, context: BotContext) -> None:
        services = context.services
        who = who_of_chat(update) if command.per_chat else who_of(update)
        tr = services.languages.translator_for(who)
        message = update.effective_message
        if command.raw_argument:
            argument = (message.text or "").partition(" ")[2] if message else ""
        else:
            argument = " ".join(context.args or ())
        reply = route(services.admin, tr, who, argument, services.clock())
        await send_reply(context, chat_id_of(update), reply)

    handle.__name__ = handle.__qualname__ = f"admin_{command.name}"
    return handle


async def not_for_you(update: Update, context: BotContext) -> None:
    """Admin commands look like unknown commands to everyone else."""
    who = who_of(update)
    message = update.effective_message
    command = (message.text or "/").split()[0][1:].split("@")[0] if message else ""
    reply = context.services.router.unknown_command(who, command)
    await send_reply(context, chat_id_of(update), reply)


async def broadcast_button(update: Update, context: BotContext) -> None:
    """Send or Cancel under a broadcast preview; anyone else's press is a stale button."""
    query = update.callback_query
    if query is None:
        return
    await answer_query(query)
    services = context.services
    who = who_of(update)
    tr = services.languages.translator_for(who)
    chat_id = chat_id_of(update)
    action = parse_action(query.data, services.library())
    answer, _, ident = action.argument.partition(":") if action else ("", "", "")
    if not services.admin.allowed(who.user_id) or action is None:
        reply = services.router.stale(who)
    elif answer == "no":
        if services.admin.cancel_broadcast(who.user_id, ident, services.clock()):
            reply = Reply(tr.lang, (Block("text", tr.gettext("Broadcast cancelled.")),))
        else:
            reply = services.router.stale(who)
    else:
        confirmed = services.admin.take_broadcast(who.user_id, ident, services.clock())
        if confirmed is None:
            reply = services.router.stale(who)
        else:
            start_broadcast(context.application, confirmed)
            reply = Reply(tr.lang, (Block("text", tr.gettext("Broadcast started.")),))
    await send_reply(context, chat_id, reply)


BROADCAST_RETRY_SECONDS = 5.0


def start_broadcast(app: Application[Any, Any, Any, Any, BotData, Any], sent: Broadcast) -> None:
    """Runs a confirmed broadcast in the background; the admin hears when it is done."""
    app.create_task(_run_broadcast(app.bot, app.bot_data, sent), name=f"broadcast-{sent.id}")


async def _run_broadcast(bot: ExtBot[None], bot_data: BotData, sent: Broadcast) -> None:
    services = bot_data.require_services()
    assert sent.day is not None  # fixed when it was confirmed
    ledger = services.admin.broadcast_ledger(sent.id)
    try:
        sender = TelegramSender(bot, paid_broadcast=services.settings.allow_paid_broadcast)
        while True:
            report = await services.digests.broadcast(
                sender, ledger, sent.text, services.clock(), sent.day
            )
            if not report.counts.get("deferred") or services.digests.stopping:
                break
            # The store went away (PostgreSQL): wait for it, then go on where it stopped.
            await asyncio.sleep(BROADCAST_RETRY_SECONDS)
    finally:
        ledger.close()
    if report.counts.get("deferred"):
        return  # cut short by a shutdown: still running, resumed at the next start
    services.admin.finish_broadcast(sent, str(report))
    tr = services.languages.translator_for(Who(sent.chat_id))
    done = tr.gettext("Broadcast finished: {report}.").format(report=report)
    await deliver(bot, sent.chat_id, Reply(tr.lang, (Block("text", done),)))
