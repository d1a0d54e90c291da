"""The command table (bot/app/commands.py): every command declared once; the menu, /help and
the console dispatch derive from it (the Telegram handlers are checked in tests/tg)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.app import router as router_module
from bot.app.commands import COMMANDS, COMMANDS_BY_NAME, menu
from bot.app.router import Router
from bot.app.services import Services
from bot.compose.render_text import render_plain
from bot.core.domain import Block, Reply, Who
from bot.i18n.translator import translator

ADMIN_NAMES = {c.name for c in COMMANDS if c.admin}
PUBLIC_NAMES = {c.name for c in COMMANDS if not c.admin}


def test_every_command_is_declared_once() -> None:
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names)), names
    assert {c.name: c for c in COMMANDS} == COMMANDS_BY_NAME
    for name in names:
        assert name == name.lower() and name.isascii() and name.isidentifier(), name
        assert 1 <= len(name) <= 32, name  # Telegram's limit on a command


def test_each_command_has_exactly_one_route() -> None:
    for command in COMMANDS:
        assert (command.route is None) != (command.admin_route is None), command.name
        assert command.admin == (command.admin_route is not None)


def test_the_table_holds_the_commands_the_bot_documents() -> None:
    assert {"stats", "reload", "broadcast", "queue", "feeds"} == ADMIN_NAMES
    assert {"start", "help", "brief", "ask", "subscribe", "settings", "unsubscribe", "latest"} <= (
        PUBLIC_NAMES
    )


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_menu_lists_the_public_commands_in_table_order_and_no_admin_one(lang: str) -> None:
    entries = menu(translator(lang))
    names = [name for name, _ in entries]
    assert names == [c.name for c in COMMANDS if c.describe is not None]
    assert set(names) == PUBLIC_NAMES
    assert not set(names) & ADMIN_NAMES
    for name, description in entries:
        assert description.strip(), name
        assert len(description) <= 256, name  # Telegram's limit on a description


def test_the_menu_is_translated() -> None:
    fr, en = dict(menu(translator("fr"))), dict(menu(translator("en")))
    assert fr.keys() == en.keys()
    assert fr["help"] != en["help"]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_help_shows_exactly_the_menu(services: Services, lang: str) -> None:
    text = render_plain(services.router.help(Who(1, lang)))
    listed = {line.split(" ")[0][1:] for line in text.splitlines() if line.startswith("/")}
    assert listed == PUBLIC_NAMES
    for name, description in menu(translator(lang)):
        assert f"/{name} — {description}" in text


def _unknown(router: Router, who: Who, name: str) -> str:
    return render_plain(router.unknown_command(who, name))


def test_the_console_dispatches_every_public_command_by_the_table(services: Services) -> None:
    router = services.router
    who = Who(7, "en")
    for name in sorted(PUBLIC_NAMES):
        reply = router.dispatch(who, f"/{name}")
        assert render_plain(reply) != _unknown(router, who, name), name
    # Case and a bot's @username do not matter, as in Telegram.
    assert render_plain(router.dispatch(who, "/HELP@partnerbrief_bot")) == render_plain(
        router.help(who)
    )


def test_the_console_routes_each_command_through_its_table_entry(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dispatch looks the command up in the table: a route swapped there is the one used."""
    marker = Reply("en", (Block("text", "from the table"),))
    patched = {
        name: dataclasses.replace(c, route=lambda r, who, arg: marker)
        for name, c in COMMANDS_BY_NAME.items()
        if c.route is not None
    }
    monkeypatch.setattr(router_module, "COMMANDS_BY_NAME", {**COMMANDS_BY_NAME, **patched})
    for name in sorted(PUBLIC_NAMES):
        assert services.router.dispatch(Who(7, "en"), f"/{name} x") is marker, name


@pytest.mark.parametrize("name", sorted(ADMIN_NAMES))
def test_admin_commands_are_unknown_to_the_console(services: Services, name: str) -> None:
    router = services.router
    who = Who(7, "en")
    assert render_plain(router.dispatch(who, f"/{name} hello")) == _unknown(router, who, name)


def test_an_undeclared_command_is_unknown(services: Services) -> None:
    router = services.router
    who = Who(7, "fr")
    assert "frobnicate" not in COMMANDS_BY_NAME
    assert render_plain(router.dispatch(who, "/frobnicate")) == _unknown(router, who, "frobnicate")
