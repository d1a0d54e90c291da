"""Deep links and /share over real HTTP against the Bot API double."""

from __future__ import annotations

import pytest

from bot.tg.app import BotApplication
from tests.support.botapi_double import BotApiDouble
from tests.tg.conftest import assert_all_accepted

pytestmark = pytest.mark.e2e

FACT = "stakes-microsoft-27pct-of-openai-group"


async def test_brief_payload_opens_the_topic_in_the_readers_language(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    double.send_text(1, "/start brief_ipo", language_code="fr")
    [reply] = await double.await_messages(1, 1)
    assert "Pourquoi c’est important" in reply.plain_text or "Sources" in reply.plain_text
    assert "v1:brief:ipo" not in reply.callback_data  # the topic itself is not offered again
    assert "v1:brief:overview" in reply.callback_data
    double.send_text(2, "/start brief_ipo", language_code="en")
    [english] = await double.await_messages(2, 1)
    assert "Why it matters" in english.plain_text
    assert_all_accepted(double)


async def test_fact_payload_opens_a_fact_card(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    double.send_text(3, f"/start fact_{FACT}", language_code="en")
    [card] = await double.await_messages(3, 1)
    text = card.plain_text
    assert "Stakes" in text and "Status: announced" in text
    assert "$135" in text and "27%" in text  # figures by Babel
    assert "Sources" in text and "https://" in text and "2025" in text
    assert "v1:brief:overview" in card.callback_data
    double.send_text(4, f"/start fact_{FACT}", language_code="fr")
    [french] = await double.await_messages(4, 1)
    assert "Statut : annoncé" in french.plain_text and "27" in french.plain_text
    assert_all_accepted(double)


async def test_subscribe_payload_opens_the_subscribe_flow(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    double.send_text(5, "/start subscribe", language_code="en")
    [menu] = await double.await_messages(5, 1)
    assert "At what time" in menu.plain_text
    assert any(data.startswith("v1:subt:") for data in menu.callback_data)
    assert_all_accepted(double)


@pytest.mark.parametrize(
    "payload",
    [
        "brief_nope",
        "fact_no-such-fact",
        "brief_ipo%21",
        "x" * 65,
        "<b>hi</b>",
        "fact_" + FACT + "🙂",
        "subscribe now",
    ],
)
async def test_bad_payloads_get_the_welcome(
    double: BotApiDouble, polling_bot: BotApplication, payload: str
) -> None:
    double.send_text(6, f"/start {payload}", language_code="en")
    [welcome] = await double.await_messages(6, 1)
    assert welcome.plain_text.startswith("Hello! I am partnerbrief.")
    assert_all_accepted(double)


async def test_share_link_round_trips_to_the_briefing(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    double.send_text(7, "/share ipo", language_code="en")
    [shared] = await double.await_messages(7, 1)
    prefix = f"https://t.me/{double.bot_username}?start="
    assert prefix + "brief_ipo" in shared.plain_text
    payload = shared.plain_text.split(prefix, 1)[1].split()[0]
    double.send_text(7, f"/start {payload}", language_code="en")
    opened = await double.await_messages(7, 2)
    assert "Why it matters" in opened[-1].plain_text
    assert "v1:brief:ipo" not in opened[-1].callback_data

    double.send_text(7, "/share", language_code="fr")
    messages = await double.await_messages(7, 3)
    assert prefix + "brief_overview" in messages[-1].plain_text
    assert messages[-1].plain_text.startswith("Partagez")
    double.send_text(7, "/share nope", language_code="en")
    messages = await double.await_messages(7, 4)
    assert "I don't know the topic" in messages[-1].plain_text
    assert_all_accepted(double)
