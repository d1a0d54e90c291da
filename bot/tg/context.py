"""A typed CallbackContext, so handlers reach the services without casts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot
from tornado.httpserver import HTTPServer

from bot.app.loopprobe import LoopProbe
from bot.app.services import Services
from bot.config import Settings
from bot.core.clock import Clock, system_clock

if TYPE_CHECKING:
    from bot.tg.request import TrackingRequest


class BotData:
    """``context.bot_data``: holds the services from post_init to post_shutdown."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.clock: Clock = system_clock  # build_application() sets the application's own
        self.services: Services | None = None
        self.health: HTTPServer | None = None
        self.tracking: list[TrackingRequest] = []  # the requests build_application made
        self.updates_request: TrackingRequest | None = None  # getUpdates', when it made it
        self.probe: LoopProbe | None = None  # BOT_LOOP_PROBE (benchmarks)
        self.own_signals = False  # run() handles SIGTERM itself (see app._handle_stop_signals)

    def require_services(self) -> Services:
        if self.services is None:
            raise RuntimeError("services are used before post_init opened them")
        return self.services

    def require_settings(self) -> Settings:
        if self.settings is None:
            raise RuntimeError("build_application() sets the settings before anything runs")
        return self.settings


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The context every handler receives."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)

    @property
    def services(self) -> Services:
        return self.bot_data.require_services()
