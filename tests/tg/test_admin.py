"""Admin commands over real HTTP: only for BOT_ADMIN_IDS, broadcasts after a confirmation."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app.admin import CONFIRM_WITHIN
from bot.store.broadcasts import Broadcast
from bot.tg.app import BotApplication
from tests.support.botapi_double import BotApiDouble
from tests.tg.conftest import Clock, polling, settings_for

pytestmark = pytest.mark.e2e
ADMIN = 4000


@pytest.fixture
async def bot(double: BotApiDouble, tmp_path: Path) -> AsyncIterator[BotApplication]:
    settings = settings_for(double, tmp_path / "data", admin_ids=frozenset({ADMIN}))
    async with polling(settings) as app:
        yield app


async def test_non_admins_get_the_unknown_command_reply(
    double: BotApiDouble, bot: BotApplication
) -> None:
    for i, command in enumerate(("/stats", "/reload", "/broadcast hello"), 1):
        double.send_text(5, command, language_code="en")
        messages = await double.await_messages(5, i)
        assert "I don't know the command" in messages[-1].plain_text


async def test_stats_and_reload_for_the_admin(double: BotApiDouble, bot: BotApplication) -> None:
    double.send_text(11, "/subscribe 07:30", language_code="fr")
    double.send_text(12, "Combien Microsoft a-t-il investi ?", language_code="fr")
    double.send_text(12, "What is the weather in Paris?", language_code="en")
    await double.await_for(lambda d: len(d.messages(12)) == 2 and len(d.messages(11)) == 1)
    double.send_text(ADMIN, "/stats", language_code="en")
    [stats] = await double.await_messages(ADMIN, 1)
    assert "Subscribers, active: 1" in stats.plain_text
    assert "Questions answered: 1" in stats.plain_text
    assert "Questions declined: 1" in stats.plain_text
    double.send_text(ADMIN, "/reload", language_code="en")
    messages = await double.await_messages(ADMIN, 2)
    assert "Content reloaded: 0 added, 0 changed, 0 removed." in messages[-1].plain_text


async def test_broadcast_needs_confirmation_and_reaches_each_subscriber_once(
    double: BotApiDouble, bot: BotApplication
) -> None:
    for chat in (21, 22, 23):
        double.send_text(chat, "/subscribe 07:30", language_code="en")
    await double.await_for(lambda d: all(len(d.messages(c)) == 1 for c in (21, 22, 23)))
    double.block(23)
    double.send_text(
        ADMIN, "/broadcast Maintenance tonight <b>22:00</b> & more", language_code="en"
    )
    [preview] = await double.await_messages(ADMIN, 1)
    assert "Send this message to 3 active subscribers?" in preview.plain_text
    assert all(len(double.messages(c)) == 1 for c in (21, 22)), "nothing sent before confirming"
    send = preview.reply_markup["inline_keyboard"][0][0]["callback_data"]
    double.press_button(ADMIN, preview.message_id, send, language_code="en")
    await double.await_for(lambda d: any("finished" in m.plain_text for m in d.messages(ADMIN)))
    for chat in (21, 22):
        assert double.messages(chat)[-1].plain_text == "Maintenance tonight <b>22:00</b> & more"
        assert len(double.messages(chat)) == 2
    double.press_button(ADMIN, preview.message_id, send, language_code="en")  # a second press
    await double.await_for(lambda d: len(d.messages(ADMIN)) >= 4)
    assert "no longer valid" in double.messages(ADMIN)[-1].plain_text
    assert all(len(double.messages(c)) == 2 for c in (21, 22))
    assert "blocked 1" in next(
        m.plain_text for m in double.messages(ADMIN) if "finished" in m.plain_text
    )


def _broadcast_files(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.glob("broadcast-*"))


async def test_a_finished_broadcast_leaves_no_files_and_keeps_its_report(
    double: BotApiDouble, bot: BotApplication, tmp_path: Path
) -> None:
    double.send_text(31, "/subscribe 07:30 Europe/Paris", language_code="en")
    await double.await_messages(31, 1)
    double.send_text(ADMIN, "/broadcast Hello all", language_code="en")
    [preview] = await double.await_messages(ADMIN, 1)
    send = preview.reply_markup["inline_keyboard"][0][0]["callback_data"]
    double.press_button(ADMIN, preview.message_id, send, language_code="en")
    await double.await_for(lambda d: any("finished" in m.plain_text for m in d.messages(ADMIN)))
    assert _broadcast_files(tmp_path / "data") == []
    services = bot.bot_data.services
    assert services is not None
    [done] = services.broadcasts.with_state("done")
    assert done.report is not None and "sent 1" in done.report


async def test_a_preview_confirmed_after_a_restart_is_still_sent(
    double: BotApiDouble, tmp_path: Path
) -> None:
    settings = settings_for(double, tmp_path / "data", admin_ids=frozenset({ADMIN}))
    async with polling(settings):
        double.send_text(32, "/subscribe 07:30 Europe/Paris", language_code="en")
        await double.await_messages(32, 1)
        double.send_text(ADMIN, "/broadcast Survives restarts", language_code="en")
        [preview] = await double.await_messages(ADMIN, 1)
    async with polling(settings):
        send = preview.reply_markup["inline_keyboard"][0][0]["callback_data"]
        double.press_button(ADMIN, preview.message_id, send, language_code="en")
        await double.await_for(lambda d: len(d.messages(32)) == 2)
        assert double.messages(32)[-1].plain_text == "Survives restarts"


async def test_a_stale_preview_cannot_be_sent(double: BotApiDouble, tmp_path: Path) -> None:
    """A preview older than a day is refused: what it says may no longer be what to send."""
    settings = settings_for(double, tmp_path / "data", admin_ids=frozenset({ADMIN}))
    clock = Clock(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
    async with polling(settings, clock=clock):
        double.send_text(33, "/subscribe 07:30 Europe/Paris", language_code="en")
        await double.await_messages(33, 1)
        double.send_text(ADMIN, "/broadcast Old news", language_code="en")
        [preview] = await double.await_messages(ADMIN, 1)
        clock.now += CONFIRM_WITHIN + dt.timedelta(minutes=1)
        send = preview.reply_markup["inline_keyboard"][0][0]["callback_data"]
        double.press_button(ADMIN, preview.message_id, send, language_code="en")
        await double.await_messages(ADMIN, 2)
        assert "no longer valid" in double.messages(ADMIN)[-1].plain_text
    assert len(double.messages(33)) == 1


async def test_a_broadcast_cut_short_by_a_restart_is_resumed_without_duplicates(
    double: BotApiDouble, tmp_path: Path
) -> None:
    """As after a kill mid-broadcast: confirmed (running), one subscriber already served."""
    data_dir = tmp_path / "data"
    settings = settings_for(double, data_dir, admin_ids=frozenset({ADMIN}))
    day = dt.date(2026, 12, 1)
    clock = Clock(dt.datetime(2026, 12, 1, 8, 5, tzinfo=dt.UTC))
    async with polling(settings, clock=clock) as app:
        for chat in (41, 42, 43):
            double.send_text(chat, "/subscribe 07:30 Europe/Paris", language_code="en")
        double.send_text(ADMIN, "/stats", language_code="en")
        await double.await_for(lambda d: all(len(d.messages(c)) == 1 for c in (41, 42, 43, ADMIN)))
        services = app.bot_data.services
        assert services is not None
        services.broadcasts.put(
            Broadcast(
                "abcd1234",
                ADMIN,
                ADMIN,
                "Resumed",
                dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC),
                "running",
                day,
            )
        )
        ledger = services.admin.broadcast_ledger("abcd1234")
        ledger.record(41, day, "sent", dt.datetime(2026, 12, 1, 8, 1, tzinfo=dt.UTC))
        ledger.close()
    async with polling(settings, clock=clock):
        await double.await_for(
            lambda d: any("finished" in m.plain_text for m in d.messages(ADMIN))
        )
        assert [len(double.messages(c)) for c in (41, 42, 43)] == [1, 2, 2]
        assert double.messages(42)[-1].plain_text == "Resumed"
        assert _broadcast_files(data_dir) == []
