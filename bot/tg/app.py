"""build_application(): the one place where every handler is wired, in an order that matters."""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import signal
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.app.commands import COMMANDS, menu
from bot.app.loopprobe import LoopProbe
from bot.app.services import Services
from bot.config import SUPPORTED_LANGS, Settings
from bot.core.actions import BROADCAST_PATTERN, NEWSROOM_PATTERN, SUBSCRIPTION_PATTERN
from bot.core.clock import Clock, system_clock
from bot.i18n.translator import translator
from bot.tg import (
    admin,
    buttons,
    commands,
    delivery,
    inline,
    intake,
    newsroom,
    questions,
    updates,
)
from bot.tg.context import BotContext, BotData
from bot.tg.errors import on_error
from bot.tg.health import start_health_server
from bot.tg.ordering import AdmittingQueue, PerChatOrder
from bot.tg.polling import PollingConflict, watch_polling_conflicts
from bot.tg.ratelimit import SharedRateLimiter
from bot.tg.request import TrackingRequest

log = logging.getLogger(__name__)

BotApplication = Application[Any, BotContext, Any, Any, BotData, Any]


def build_application(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
) -> BotApplication:
    """The Telegram application with its handlers; stores open in post_init."""
    if not settings.telegram_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is required to run the Telegram bot")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .context_types(ContextTypes(context=BotContext, bot_data=BotData))
        # max_retries: PTB's default of 0 turns every flood-control answer into a failure.
        # On PostgreSQL the overall rate is shared by every replica (bot/tg/ratelimit.py).
        .rate_limiter(
            SharedRateLimiter(max_retries=3)
            if settings.database_url
            else AIORateLimiter(
                overall_max_rate=settings.send_rate, overall_time_period=1, max_retries=3
            )
        )
        # Chats at once, each chat's updates in order (bot/tg/ordering.py).
        .concurrent_updates(PerChatOrder())
        # Holds a webhook's deliveries past the processor's backlog (set in _post_init).
        .update_queue(AdmittingQueue())
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
    )
    if settings.telegram_api_base_url:
        builder = builder.base_url(settings.telegram_api_base_url)
    # Tracking requests feed /readyz (last answer from Telegram) and the 429 metric; up to 256
    # of the bot's calls in flight at once (PTB's default pool), one getUpdates.
    tracking = [TrackingRequest(connection_pool_size=256), TrackingRequest()]
    builder = builder.request(request or tracking[0])
    builder = builder.get_updates_request(get_updates_request or tracking[1])
    application: BotApplication = builder.build()
    application.bot_data.settings = settings
    application.bot_data.clock = clock
    application.bot_data.tracking = [
        t for t, given in zip(tracking, (request, get_updates_request), strict=True) if not given
    ]
    if get_updates_request is None:
        application.bot_data.updates_request = tracking[1]
    _add_handlers(application, settings)
    return application


def _add_handlers(app: BotApplication, settings: Settings) -> None:
    # Group -2 runs first: what other replicas committed is in memory before anything reads it.
    app.add_handler(TypeHandler(Update, updates.up_to_date), group=-2)
    # Group -1 runs before every other handler: a flooding user's updates stop here.
    app.add_handler(TypeHandler(Update, updates.flood_gate), group=-1)
    # Edited messages are ignored: answering an edit would repeat the answer to the original.
    new_messages = filters.UpdateType.MESSAGE
    admins = filters.User(user_id=settings.admin_ids)
    for command in COMMANDS:
        handler: CommandHandler[BotContext, None]
        if command.admin:
            handler = CommandHandler(
                command.name, admin.admin_callback(command), filters=new_messages & admins
            )
        elif command.question:
            # block=False: a question may wait on an LLM for seconds; others must not queue.
            handler = CommandHandler(
                command.name, questions.ask, filters=new_messages, block=False
            )
        else:
            handler = CommandHandler(
                command.name, commands.command_callback(command), filters=new_messages
            )
        app.add_handler(handler)
    # Admin commands answer everyone else like unknown commands, in groups too.
    admin_names = [c.name for c in COMMANDS if c.admin]
    app.add_handler(CommandHandler(admin_names, admin.not_for_you, filters=new_messages))
    # Must come after every CommandHandler: it catches whatever command they did not take.
    app.add_handler(MessageHandler(filters.COMMAND & new_messages, commands.unknown_command))
    app.add_handler(CallbackQueryHandler(admin.broadcast_button, pattern=BROADCAST_PATTERN))
    app.add_handler(CallbackQueryHandler(newsroom.review_button, pattern=NEWSROOM_PATTERN))
    app.add_handler(CallbackQueryHandler(buttons.digest_button, pattern=SUBSCRIPTION_PATTERN))
    app.add_handler(CallbackQueryHandler(buttons.button))
    # @bot <words> in any chat; the flood gate above counts these like messages.
    app.add_handler(InlineQueryHandler(inline.inline_query))
    # An admin's private message may be a step of a newsroom draft (else it is a question).
    app.add_handler(
        MessageHandler(
            filters.TEXT & ~filters.COMMAND & new_messages & admins & filters.ChatType.PRIVATE,
            newsroom.review_text,
            block=False,
        )
    )
    # Plain text is a question in private chats; in groups only when addressed to the bot,
    # which questions.question decides (people in groups mostly talk to each other).
    app.add_handler(
        MessageHandler(
            filters.TEXT & ~filters.COMMAND & new_messages, questions.question, block=False
        )
    )
    # Last: anything else in a private chat (stickers, photos, voice) gets a hint.
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & new_messages & ~filters.COMMAND, commands.other_message
        )
    )
    app.add_error_handler(on_error)


async def _post_init(app: BotApplication) -> None:
    settings = app.bot_data.require_settings()
    app.bot_data.services = Services.open(settings, app.bot_data.clock)
    limiter = app.bot.rate_limiter
    if isinstance(limiter, SharedRateLimiter):
        limiter.shared = app.bot_data.services.send_rate
    # Other replicas' writes (PostgreSQL) are applied on this loop, which reads the stores.
    app.bot_data.services.follow_changes(asyncio.get_running_loop())
    # Links the bot emits (/share, inline results) name it; initialize() asked getMe.
    app.bot_data.services.router.bot_username = app.bot.username
    # The fact index and modules never change after this point: moving them out of the
    # collector's view takes 27-50 ms full-collection pauses off the tail latency (soak).
    gc.freeze()
    for tracked in app.bot_data.tracking:
        tracked.on_flood = app.bot_data.services.stats.rate_limit_waits.inc
        if tracked is not app.bot_data.updates_request:
            tracked.before_send = app.bot_data.services.backend.acknowledged
        elif isinstance(app.update_processor, PerChatOrder):
            # Past its backlog the bot stops asking for updates until it has room again.
            tracked.before_poll = app.update_processor.room
    queue, processor = app.update_queue, app.update_processor
    webhook = bool(settings.webhook_url)
    if webhook and isinstance(queue, AdmittingQueue) and isinstance(processor, PerChatOrder):
        # Likewise for webhook deliveries: each is answered once there is room for it.
        queue.room = processor.room
    await publish_commands(app)
    schedule_digests(app)
    schedule_intake(app)
    # A broadcast a restart cut short goes on once the application runs; its ledger knows who
    # already has it.
    if app.bot_data.services.admin.interrupted_broadcasts() and app.job_queue is not None:
        app.job_queue.run_once(_resume_broadcasts, when=0.5, name="resume-broadcasts")
    # Likewise corrections an approval owed and a restart cut short.
    if app.bot_data.services.corrections.running() and app.job_queue is not None:
        app.job_queue.run_once(_resume_corrections, when=0.5, name="resume-corrections")
    if app.bot_data.own_signals:
        _handle_stop_signals(app)
    if settings.loop_probe is not None:
        app.bot_data.probe = LoopProbe(settings.loop_probe)
        app.bot_data.probe.start()
    if settings.http_port:
        app.bot_data.health = start_health_server(app, settings.http_listen, settings.http_port)
        log.info("health and metrics on port %d", settings.http_port)


async def _resume_broadcasts(context: BotContext) -> None:
    for interrupted in context.services.admin.interrupted_broadcasts():
        log.info("resuming broadcast %s", interrupted.id)
        admin.start_broadcast(context.application, interrupted)


async def _resume_corrections(context: BotContext) -> None:
    for interrupted in context.services.corrections.running():
        log.info("resuming corrections %s", interrupted.id)
        newsroom.start_corrections(context.application, interrupted)


async def _post_stop(app: BotApplication) -> None:
    """Stops the probe server while the event loop still runs."""
    if app.bot_data.health is not None:
        app.bot_data.health.stop()
        app.bot_data.health = None


async def _post_shutdown(app: BotApplication) -> None:
    if app.bot_data.probe is not None:
        await app.bot_data.probe.stop()
    if app.bot_data.services is not None:
        await app.bot_data.services.aclose()
        app.bot_data.services = None


def _handle_stop_signals(app: BotApplication) -> None:
    """SIGTERM/SIGINT: stop starting digest sends first, then stop as PTB does.

    PTB's own handlers would stop the application only after the running sweep job ends, which
    for a large broadcast at 30 msg/s takes minutes; service managers kill long before that.
    Sends already in flight finish and are recorded; the rest stay due for the next start.
    """
    loop = asyncio.get_running_loop()

    def stop() -> None:
        services = app.bot_data.services
        if services is not None:
            services.digests.request_stop()
            # A stalled feed would hold the job, and so the shutdown, up to its timeout.
            if services.intake is not None:
                services.intake.request_stop()
        app.stop_running()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)


def schedule_digests(app: BotApplication) -> None:
    """One sweep a minute, rebuilt at every start (PTB keeps no jobs across restarts).

    The first sweep runs at once, to send late digests missed while the bot was down. PTB's
    default misfire grace of one second would silently drop a sweep delayed by a busy loop;
    a late sweep is still worth running, and coalescing keeps a backlog from running twice.
    """
    if app.job_queue is None:
        raise RuntimeError("python-telegram-bot's job-queue extra is required")
    app.job_queue.run_repeating(
        delivery.sweep,
        interval=delivery.SWEEP_SECONDS,
        first=1.0,
        name="digest-sweep",
        job_kwargs={"misfire_grace_time": 50, "coalesce": True, "max_instances": 1},
    )
    services = app.bot_data.services
    if services is not None and services.fleet is not None:
        app.job_queue.run_repeating(
            delivery.poll_queue,
            interval=delivery.POLL_SECONDS,
            first=delivery.POLL_SECONDS,
            name="digest-queue-poll",
            job_kwargs={"misfire_grace_time": 5, "coalesce": True, "max_instances": 1},
        )


def schedule_intake(app: BotApplication) -> None:
    """The feed poller, only when the newsroom is on (BOT_NEWSROOM=1 or BOT_FEEDS): other
    deployments, and every test not about feeds, make no request to any feed.

    A job rather than a task of our own: the job queue already owns the digest sweep's
    lifecycle (started after post_init, stopped before post_shutdown closes the client), and
    PTB keeps no jobs across restarts, so each start schedules it again; when each feed is
    due comes from the store, not from the job. Coalesced and never overlapping, like the
    sweep: a cycle held by a slow feed is not run twice.
    """
    services = app.bot_data.require_services()
    if services.intake is None:
        return
    if app.job_queue is None:
        raise RuntimeError("python-telegram-bot's job-queue extra is required")
    app.job_queue.run_repeating(
        intake.poll_feeds,
        interval=intake.TICK_SECONDS,
        first=1.0,
        name="feed-poll",
        job_kwargs={"misfire_grace_time": 50, "coalesce": True, "max_instances": 1},
    )


async def publish_commands(app: BotApplication) -> None:
    """The command menu, localized per language, with the default language for the rest."""
    settings = app.bot_data.require_settings()
    for lang in SUPPORTED_LANGS:
        tr = translator("fr" if lang == "fr" else "en")
        commands = [BotCommand(c, d) for c, d in menu(tr)]
        await app.bot.set_my_commands(commands, language_code=lang)
        if lang == settings.default_lang:
            await app.bot.set_my_commands(commands)


def run(settings: Settings, clock: Clock = system_clock) -> None:
    """Long polling by default; a webhook when BOT_WEBHOOK_URL is set.

    Raises PollingConflict when another process polls the same token (see bot/tg/polling.py).
    """
    application = build_application(settings, clock=clock)
    application.bot_data.own_signals = True
    if not settings.webhook_url:
        conflict = watch_polling_conflicts(application)
        application.run_polling(
            allowed_updates=Update.ALL_TYPES, drop_pending_updates=False, stop_signals=()
        )
        if conflict.found is not None:
            raise PollingConflict(conflict.found)
        return
    secret = settings.webhook_secret
    if not secret:
        # Telegram echoes this in X-Telegram-Bot-Api-Secret-Token; without it anyone who
        # learns the URL could post updates. Generated per start, never logged.
        secret = secrets.token_urlsafe(32)
        log.info("webhook secret token: set (generated; BOT_WEBHOOK_SECRET was empty)")
    else:
        log.info("webhook secret token: set")
    application.run_webhook(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
        webhook_url=settings.webhook_url,
        secret_token=secret,
        allowed_updates=Update.ALL_TYPES,
        stop_signals=(),
    )
