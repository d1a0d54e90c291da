"""/healthz, /readyz and /metrics on BOT_HTTP_PORT, served by tornado on the bot's event loop.

tornado is already here: python-telegram-bot's webhook server is built on it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from telegram.error import TelegramError
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from bot.tg.request import TrackingRequest

READY_WITHIN = 600.0  # seconds since the last answer from Telegram


class _Health(RequestHandler):
    def get(self) -> None:
        self.write("ok\n")


class _Ready(RequestHandler):
    def initialize(self, bot_app: Any) -> None:
        self.application_ = bot_app

    async def get(self) -> None:
        problems = await readiness_problems(self.application_)
        warnings = readiness_warnings(self.application_)
        if problems:
            self.set_status(503)
        self.write({"ready": not problems, "problems": problems, "warnings": warnings})


class _Metrics(RequestHandler):
    def initialize(self, bot_app: Any) -> None:
        self.application_ = bot_app

    def get(self) -> None:
        services = self.application_.bot_data.services
        if services is None:
            self.set_status(503)
            return
        subs = services.subscriptions.all()
        active = sum(s.active and not s.paused for s in subs)
        services.stats.subscribers.labels("active").set(active)
        services.stats.subscribers.labels("paused").set(sum(s.paused for s in subs))
        services.stats.subscribers.labels("inactive").set(sum(not s.active for s in subs))
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.write(generate_latest(services.stats.registry))


async def readiness_problems(application: Any) -> list[str]:
    """Empty when content is loaded, the store is open (PostgreSQL answers, when it is the
    store), the scheduler runs and Telegram answers."""
    problems = []
    services = application.bot_data.services
    if services is None:
        return ["services are not open"]
    if not services.library().facts:
        problems.append("no content loaded")
    database = await services.database_problem()
    if database is not None:
        problems.append(database)
    job_queue = application.job_queue
    if job_queue is None or not job_queue.scheduler.running:
        problems.append("scheduler is not running")
    request = application.bot.request
    fresh = isinstance(request, TrackingRequest) and (
        time.monotonic() - request.last_answer < READY_WITHIN
    )
    if not fresh:
        # Quiet bots make no calls for a while: one getMe tells whether Telegram answers now.
        try:
            await asyncio.wait_for(application.bot.get_me(), timeout=5)
        except (TelegramError, TimeoutError):
            problems.append("no answer from Telegram")
    return problems


def readiness_warnings(application: Any) -> list[str]:
    """What an operator must fix that does not stop the bot serving: a misconfigured LLM only
    means every answer is the extract, so a load balancer should keep the replica."""
    services = application.bot_data.services
    phraser = services.phraser if services is not None else None
    if phraser is not None and phraser.misconfigured is not None:
        return [f"LLM misconfigured: {phraser.misconfigured}"]
    return []


def start_health_server(application: Any, listen: str, port: int) -> HTTPServer:
    app = Application(
        [
            (r"/healthz", _Health),
            (r"/readyz", _Ready, {"bot_app": application}),
            (r"/metrics", _Metrics, {"bot_app": application}),
        ]
    )
    server = HTTPServer(app)
    server.listen(port, address=listen)
    return server
