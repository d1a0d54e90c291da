"""/settings topic buttons over real HTTP: toggled per topic, kept across restarts, and in a
group only for its administrators."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.botapi_double import BotApiDouble
from tests.tg.conftest import polling, settings_for

pytestmark = pytest.mark.e2e


def _buttons(message: object) -> dict[str, str]:
    markup = getattr(message, "reply_markup", None) or {}
    return {b["callback_data"]: b["text"] for row in markup["inline_keyboard"] for b in row}


async def test_topic_buttons_toggle_and_survive_a_restart(
    double: BotApiDouble, tmp_path: Path
) -> None:
    settings = settings_for(double, tmp_path / "data")
    async with polling(settings) as app:
        double.send_text(20, "/subscribe 07:30 Europe/Paris", language_code="en")
        await double.await_messages(20, 1)
        double.send_text(20, "/settings", language_code="en")
        [*_, shown] = await double.await_messages(20, 2)
        assert "Topics: all" in shown.plain_text
        buttons = _buttons(shown)
        assert buttons["v1:subtop:ipo"] == "✓ IPO"
        assert all(buttons[f"v1:subtop:{t}"].startswith("✓ ") for t in ("stakes", "revenue"))

        double.press_button(20, shown.message_id, "v1:subtop:ipo", language_code="en")
        [*_, after] = await double.await_messages(20, 3)
        assert (
            "Topics: Stakes, Revenue share" in after.plain_text or "Topics: " in after.plain_text
        )
        assert "IPO" not in after.plain_text.split("Topics: ", 1)[1].split("\n", 1)[0]
        assert _buttons(after)["v1:subtop:ipo"] == "IPO"
        services = app.bot_data.services
        assert services is not None
        sub = services.subscriptions.get(20)
        assert sub is not None and sub.topics == ("stakes", "revenue", "infrastructure")

    async with polling(settings) as app:
        services = app.bot_data.services
        assert services is not None
        sub = services.subscriptions.get(20)
        assert sub is not None and sub.topics == ("stakes", "revenue", "infrastructure")
        double.send_text(20, "/settings", language_code="fr")
        [*_, shown] = await double.await_messages(20, 4)
        assert "Thèmes :" in shown.plain_text
        # Choosing IPO again means every topic again.
        double.press_button(20, shown.message_id, "v1:subtop:ipo", language_code="fr")
        await double.await_messages(20, 5)
        sub = services.subscriptions.get(20)
        assert sub is not None and sub.topics is None
    # A restart's long poll may meet the previous one's (a 409): that is the double, not us.
    refused = [c for c in double.calls() if not c.ok and c.method != "getUpdates"]
    assert refused == []


async def test_the_last_topic_cannot_be_taken_away(double: BotApiDouble, tmp_path: Path) -> None:
    async with polling(settings_for(double, tmp_path / "data")) as app:
        services = app.bot_data.services
        assert services is not None
        double.send_text(21, "/subscribe 07:30 Europe/Paris", language_code="en")
        await double.await_messages(21, 1)
        count = 1
        for topic in ("stakes", "revenue", "infrastructure", "ipo"):
            double.send_text(21, "/settings", language_code="en")
            count += 1
            [*_, shown] = await double.await_messages(21, count)
            double.press_button(21, shown.message_id, f"v1:subtop:{topic}", language_code="en")
            count += 1
            await double.await_messages(21, count)
        sub = services.subscriptions.get(21)
        assert sub is not None and sub.topics == ("ipo",)


async def test_in_a_group_only_administrators_choose_topics(
    double: BotApiDouble, tmp_path: Path
) -> None:
    async with polling(settings_for(double, tmp_path / "data")) as app:
        services = app.bot_data.services
        assert services is not None
        double.set_administrators(-930, [701])
        double.send_text(
            701,
            f"/settings@{double.bot_username}",
            chat_id=-930,
            chat_type="group",
            language_code="en",
        )
        double.send_text(
            701,
            f"/subscribe@{double.bot_username} 07:30",
            chat_id=-930,
            chat_type="group",
            language_code="en",
        )
        await double.await_messages(-930, 2)
        double.send_text(701, f"/settings@{double.bot_username}", chat_id=-930, chat_type="group")
        [*_, shown] = await double.await_messages(-930, 3)
        double.press_button(702, shown.message_id, "v1:subtop:ipo", chat_id=-930)
        [*_, refused] = await double.await_messages(-930, 4)
        assert "Only this group's administrators" in refused.plain_text
        group = services.subscriptions.get(-930)
        assert group is not None and group.topics is None
        double.press_button(701, shown.message_id, "v1:subtop:ipo", chat_id=-930)
        await double.await_messages(-930, 5)
        group = services.subscriptions.get(-930)
        assert group is not None and group.topics == ("stakes", "revenue", "infrastructure")
