"""The wiring of build_application (bot/tg/app.py) against the command table and the payload
families: CommandHandlers come from bot/app/commands.py, and each button family reaches its own
handler through the real Application polling the Bot API double."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler

from bot.app.commands import COMMANDS, menu
from bot.config import Settings
from bot.i18n.translator import translator
from bot.tg import admin as tg_admin
from bot.tg import buttons as tg_buttons
from bot.tg import newsroom as tg_newsroom
from bot.tg.app import BotApplication, build_application
from bot.tg.context import BotContext
from tests.conftest import CONTENT
from tests.support.botapi_double import BotApiDouble
from tests.tg.conftest import polling, settings_for

ADMIN = 4000
ADMIN_NAMES = {c.name for c in COMMANDS if c.admin}


def _offline_application(tmp_path: Path) -> BotApplication:
    """Built, never initialised: no request leaves the process."""
    settings = Settings(
        telegram_token="123:offline",  # never sent anywhere: the app is not initialised
        data_dir=tmp_path / "data",
        content_dir=CONTENT,
        admin_ids=frozenset({ADMIN}),
    )
    return build_application(settings)


def test_the_command_handlers_are_the_command_table(tmp_path: Path) -> None:
    handlers = _offline_application(tmp_path).handlers[0]
    commands = [h for h in handlers if isinstance(h, CommandHandler)]
    fallback = [h for h in commands if h.callback is tg_admin.not_for_you]
    own = [h for h in commands if h.callback is not tg_admin.not_for_you]
    names = [name for h in own for name in h.commands]
    assert sorted(names) == sorted(c.name for c in COMMANDS), "each command exactly once"
    [only] = fallback
    assert set(only.commands) == ADMIN_NAMES
    # The not-for-you fallback comes after the admin handlers it stands in for.
    assert handlers.index(only) > max(handlers.index(h) for h in own)


def test_every_command_handler_comes_before_the_unknown_command_catch_all(
    tmp_path: Path,
) -> None:
    handlers = _offline_application(tmp_path).handlers[0]
    catch_all = next(
        i
        for i, h in enumerate(handlers)
        if isinstance(h, MessageHandler) and h.callback.__name__ == "unknown_command"
    )
    last_command = max(i for i, h in enumerate(handlers) if isinstance(h, CommandHandler))
    assert last_command < catch_all


def test_the_button_handlers_are_one_per_family_the_catch_all_last(tmp_path: Path) -> None:
    handlers = _offline_application(tmp_path).handlers[0]
    queries = [h for h in handlers if isinstance(h, CallbackQueryHandler)]
    assert [h.callback for h in queries] == [
        tg_admin.broadcast_button,
        tg_newsroom.review_button,
        tg_buttons.digest_button,
        tg_buttons.button,
    ]
    assert [h.pattern is None for h in queries] == [False, False, False, True]


@pytest.mark.e2e
async def test_the_published_menus_are_the_table_without_admin_commands(
    double: BotApiDouble, tmp_path: Path
) -> None:
    settings = settings_for(double, tmp_path / "data", admin_ids=frozenset({ADMIN}))
    async with polling(settings):
        for language_code, lang in (("fr", "fr"), ("en", "en"), ("", settings.default_lang)):
            published = [
                (c["command"], c["description"])
                for c in double.commands(language_code=language_code)
            ]
            assert published == menu(translator(lang)), language_code
            assert not {name for name, _ in published} & ADMIN_NAMES


Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


@pytest.fixture
def reached(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """(family, payload) for each button press, in the order the handlers got them: the real
    handlers, wrapped before build_application picks them up."""
    log: list[tuple[str, str | None]] = []

    def spy(family: str, original: Handler) -> Handler:
        async def wrapper(update: Update, context: BotContext) -> None:
            log.append((family, update.callback_query.data if update.callback_query else None))
            await original(update, context)

        return wrapper

    monkeypatch.setattr(tg_admin, "broadcast_button", spy("broadcast", tg_admin.broadcast_button))
    monkeypatch.setattr(tg_buttons, "digest_button", spy("digest", tg_buttons.digest_button))
    monkeypatch.setattr(tg_buttons, "button", spy("rest", tg_buttons.button))
    return log


@pytest.mark.e2e
async def test_each_payload_family_reaches_its_handler(
    double: BotApiDouble, tmp_path: Path, reached: list[tuple[str, str | None]]
) -> None:
    settings = settings_for(double, tmp_path / "data", admin_ids=frozenset({ADMIN}))
    user = 31
    async with polling(settings):
        double.send_text(user, "/start", language_code="en")
        double.send_text(user, "/subscribe", language_code="en")
        double.send_text(ADMIN, "/broadcast Hello all", language_code="en")
        welcome, time_menu = await double.await_messages(user, 2)
        [preview] = await double.await_messages(ADMIN, 1)
        cancel = next(d for d in preview.callback_data if d.startswith("v1:bc:no:"))
        presses = [
            # (who, message, payload, strict, family)
            (user, welcome, "v1:brief:stakes", True, "rest"),
            (user, time_menu, "v1:subt:0730", True, "digest"),
            (ADMIN, preview, cancel, True, "broadcast"),
            # Forged payloads go to the family their shape names, which refuses them.
            (user, welcome, "v1:bc:yes:deadbeef", False, "broadcast"),
            (user, welcome, "v1:unsub:yes", False, "digest"),
            (user, welcome, "v1:subt", False, "digest"),
            (user, welcome, "v1:brief:nowhere", False, "rest"),
            (user, welcome, "garbage", False, "rest"),
        ]
        for i, (who, message, data, strict, family) in enumerate(presses, 1):
            query = double.press_button(
                who, message.message_id, data, strict=strict, language_code="en"
            )
            await double.await_for(
                lambda d, q=query, n=i: len(reached) >= n and q in d.answered_callback_ids(),
                description=f"press {data!r}",
            )
            assert reached[-1] == (family, data), data
        assert len(reached) == len(presses), "each press reached exactly one handler"
        # The real handlers ran: the brief came, the time picked led on, the broadcast is off.
        assert any("[1]" in m.plain_text for m in double.messages(user))
        assert any(
            d.startswith("v1:subz:0730:") for m in double.messages(user) for d in m.callback_data
        )
        assert any("cancel" in m.plain_text.lower() for m in double.messages(ADMIN))
