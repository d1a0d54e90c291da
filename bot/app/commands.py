"""Every command, declared once: the menus, /help, the console and Telegram derive from here.

bot/tg/commands.py turns each entry into a CommandHandler; bot/app/router.py dispatches console
lines with it; setMyCommands and /help list the entries that have a description.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.domain import Reply, Who
from bot.i18n.translator import Translator

if TYPE_CHECKING:  # the router and admin import this table; they are only named here
    from bot.app.admin import Admin
    from bot.app.router import Router

Route = Callable[["Router", Who, str], Reply]
AdminRoute = Callable[["Admin", Translator, Who, str, dt.datetime], Reply]


@dataclass(frozen=True)
class Command:
    name: str
    describe: Callable[[Translator], str] | None = None  # the menu line; None: not listed
    route: Route | None = None  # what the router answers (and so the console)
    admin_route: AdminRoute | None = None  # BOT_ADMIN_IDS only; others hear "unknown command"
    question: bool = False  # answered off the update queue: an LLM may take seconds
    per_chat: bool = False  # about the chat it is sent in (a group's digest), not the sender
    manages_digest: bool = False  # in a group, only its administrators may use it
    raw_argument: bool = False  # the text after the command as written, line breaks included

    @property
    def admin(self) -> bool:
        return self.admin_route is not None


# In menu order. Descriptions are gettext calls so that extraction finds them.
COMMANDS: tuple[Command, ...] = (
    Command(
        "brief",
        lambda tr: tr.gettext(
            "the sourced briefing; add a topic: stakes, revenue, infrastructure, ipo"
        ),
        route=lambda r, who, arg: r.brief(who, arg),
    ),
    Command(
        "chart",
        lambda tr: tr.gettext("a chart of a topic's figures over time, e.g. /chart stakes"),
        route=lambda r, who, arg: r.chart(who, arg),
    ),
    Command(
        "ask",
        lambda tr: tr.gettext("ask a question; in private chats, just write it"),
        route=lambda r, who, arg: r.text(who, arg),
        question=True,
        per_chat=True,
    ),
    Command(
        "subscribe",
        lambda tr: tr.gettext("a daily digest at your time, e.g. /subscribe 07:30 Europe/Paris"),
        route=lambda r, who, arg: r.subscribe(who, arg),
        per_chat=True,
        manages_digest=True,
    ),
    Command(
        "settings",
        lambda tr: tr.gettext("your daily digest: time, pause, days"),
        route=lambda r, who, arg: r.settings(who),
        per_chat=True,
        manages_digest=True,
    ),
    Command(
        "unsubscribe",
        lambda tr: tr.gettext("stop the daily digest"),
        route=lambda r, who, arg: r.unsubscribe(who),
        per_chat=True,
        manages_digest=True,
    ),
    Command(
        "share",
        lambda tr: tr.gettext("a link to a briefing to share, e.g. /share ipo"),
        route=lambda r, who, arg: r.share(who, arg),
    ),
    Command(
        "latest",
        lambda tr: tr.gettext("the last facts our editors approved"),
        route=lambda r, who, arg: r.latest(who),
    ),
    Command(
        "topics",
        lambda tr: tr.gettext("the topics I cover"),
        route=lambda r, who, arg: r.topics(who),
    ),
    Command(
        "sources",
        lambda tr: tr.gettext("the sources behind every fact"),
        route=lambda r, who, arg: r.sources(who),
    ),
    Command(
        "lang",
        lambda tr: tr.gettext("switch language: /lang fr or /lang en"),
        route=lambda r, who, arg: r.set_lang(who, arg),
    ),
    Command(
        "help",
        lambda tr: tr.gettext("how to use this bot"),
        route=lambda r, who, arg: r.help(who),
    ),
    Command(
        "start",
        lambda tr: tr.gettext("welcome message and topic buttons"),
        route=lambda r, who, arg: r.start(who, arg),
        # The chat's own digest comes back: in a group, the group's, not the sender's.
        per_chat=True,
    ),
    Command("stats", admin_route=lambda a, tr, who, arg, now: a.stats(tr, now)),
    Command("reload", admin_route=lambda a, tr, who, arg, now: a.reload(tr)),
    Command("queue", admin_route=lambda a, tr, who, arg, now: a.queue(tr)),
    Command("feeds", admin_route=lambda a, tr, who, arg, now: a.feeds(tr, now)),
    Command(
        "broadcast",
        admin_route=lambda a, tr, who, arg, now: a.prepare_broadcast(
            tr, who.user_id, who.chat, arg, now
        ),
        per_chat=True,
        raw_argument=True,
    ),
)
COMMANDS_BY_NAME = {command.name: command for command in COMMANDS}


def menu(tr: Translator) -> list[tuple[str, str]]:
    """Command menu entries, for /help and Telegram's setMyCommands."""
    return [(c.name, c.describe(tr)) for c in COMMANDS if c.describe is not None]
