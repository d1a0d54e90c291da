"""Daily digests end to end over real HTTP: subscribe in the chat, deliver once, and cope with
blocked users and flood control as Telegram reports them."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.tg.app import BotApplication
from bot.tg.delivery import TelegramSender
from tests.support.botapi_double import BotApiDouble
from tests.tg.conftest import Clock, polling, settings_for

pytestmark = pytest.mark.e2e
SUBSCRIBED_AT = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
DELIVERY = dt.datetime(2026, 11, 27, 6, 30, 20, tzinfo=dt.UTC)  # 07:30:20 in Paris


@pytest.fixture
async def bot(double: BotApiDouble, tmp_path: Path) -> AsyncIterator[tuple[BotApplication, Clock]]:
    clock = Clock(SUBSCRIBED_AT)
    async with polling(settings_for(double, tmp_path / "data"), clock=clock) as app:
        yield app, clock


async def _sweep(app: BotApplication, now: dt.datetime) -> dict[str, int]:
    services = app.bot_data.services
    assert services is not None
    return (await services.digests.sweep(TelegramSender(app.bot), now)).counts


async def test_subscribe_in_chat_then_exactly_one_digest(
    double: BotApiDouble, bot: tuple[BotApplication, Clock]
) -> None:
    app, clock = bot
    double.send_text(7, "/subscribe 7h30 europe/paris", language_code="fr")
    [confirmation] = await double.await_messages(7, 1)
    assert "07:30 (Europe/Paris)" in confirmation.plain_text
    assert "vendredi 27 novembre 2026 à 07:30" in confirmation.plain_text
    clock.now = DELIVERY
    assert await _sweep(app, DELIVERY) == {"sent": 1}
    assert await _sweep(app, DELIVERY + dt.timedelta(minutes=1)) == {}
    messages = await double.await_messages(7, 2)
    assert messages[-1].plain_text.startswith("Le point partnerbrief du 27 novembre 2026")
    assert len(double.messages(7)) == 2


async def test_a_user_who_blocked_the_bot_becomes_inactive_then_comes_back(
    double: BotApiDouble, bot: tuple[BotApplication, Clock]
) -> None:
    app, clock = bot
    double.send_text(8, "/subscribe 07:30 Europe/Paris", language_code="en")
    await double.await_messages(8, 1)
    double.block(8)
    clock.now = DELIVERY
    assert await _sweep(app, DELIVERY) == {"blocked": 1}
    services = app.bot_data.services
    assert services is not None
    sub = services.subscriptions.get(8)
    assert sub is not None and not sub.active
    double.unblock(8)
    double.send_text(8, "/start", language_code="en")
    await double.await_messages(8, 2)
    sub = services.subscriptions.get(8)
    assert sub is not None and sub.active


async def test_flood_control_retry_after_is_honoured(
    double: BotApiDouble, bot: tuple[BotApplication, Clock]
) -> None:
    app, clock = bot
    double.send_text(9, "/subscribe 07:30 Europe/Paris", language_code="en")
    await double.await_messages(9, 1)
    double.fail_next(
        "sendMessage", status=429, description="Too Many Requests: retry after 1", retry_after=1
    )
    clock.now = DELIVERY
    started = dt.datetime.now(dt.UTC)
    assert await _sweep(app, DELIVERY) == {"sent": 1}
    waited = (dt.datetime.now(dt.UTC) - started).total_seconds()
    assert waited >= 0.9, "the bot waited as Telegram asked before retrying"
    assert len(double.messages(9)) == 2


async def test_only_group_administrators_manage_the_group_digest(
    double: BotApiDouble, bot: tuple[BotApplication, Clock]
) -> None:
    app, _ = bot
    double.set_administrators(-900, [501], creator=503)
    double.send_text(
        502,
        "/subscribe 07:30@" + double.bot_username,
        chat_id=-900,
        chat_type="group",
        language_code="en",
    )
    [refused] = await double.await_messages(-900, 1)
    assert "Only this group's administrators" in refused.plain_text
    services = app.bot_data.services
    assert services is not None and services.subscriptions.get(-900) is None
    double.send_text(
        501,
        f"/subscribe@{double.bot_username} 07:30",
        chat_id=-900,
        chat_type="group",
        language_code="en",
    )
    messages = await double.await_messages(-900, 2)
    assert "Subscribed" in messages[-1].plain_text
    assert services.subscriptions.get(-900) is not None
    double.send_text(
        503, f"/subscribe@{double.bot_username} 08:15", chat_id=-900, chat_type="group"
    )
    messages = await double.await_messages(-900, 3)
    assert "Subscribed" in messages[-1].plain_text
    group = services.subscriptions.get(-900)
    assert group is not None and group.at == dt.time(8, 15), "the group's creator may change it"


async def test_start_in_a_group_brings_back_the_groups_digest_not_the_senders(
    double: BotApiDouble, bot: tuple[BotApplication, Clock]
) -> None:
    """A group that kicked the bot and added it back restarts its own digest with /start; the
    sender's private digest, stopped for its own reason, stays stopped."""
    app, clock = bot
    services = app.bot_data.services
    assert services is not None
    double.set_administrators(-910, [601])
    double.send_text(601, "/subscribe 07:30 Europe/Paris", language_code="en")
    double.send_text(601, "/subscribe 07:30 Europe/Paris", chat_id=-910, chat_type="group")
    await double.await_messages(601, 1)
    await double.await_messages(-910, 1)
    double.block(601)
    double.block(-910)
    clock.now = DELIVERY
    assert await _sweep(app, DELIVERY) == {"blocked": 2}
    double.unblock(-910)
    double.send_text(601, "/start", chat_id=-910, chat_type="group")
    await double.await_messages(-910, 2)
    group, private = services.subscriptions.get(-910), services.subscriptions.get(601)
    assert group is not None and group.active
    assert private is not None and not private.active
