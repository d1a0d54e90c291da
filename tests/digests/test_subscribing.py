"""/subscribe, /settings and /unsubscribe through the conversation, on real TinyDB files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.router import Router
from bot.app.services import build_conversation
from bot.compose.render_text import render_plain
from bot.core.domain import Library, Who
from bot.digests.subscribing import Subscribing
from bot.store.subscriptions import SubscriptionStore
from bot.store.users import UserStore

NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def chat(tmp_path: Path, library: Library) -> Iterator[tuple[Router, SubscriptionStore]]:
    users = UserStore(tmp_path)
    subs = SubscriptionStore(users.tables)
    conversation = build_conversation(
        lambda: library, users, "en", subscribing=Subscribing(subs, lambda: NOW)
    ).router
    yield conversation, subs
    users.close()


FR, EN = Who(10, "fr-FR"), Who(20, "en-GB")


def test_time_only_uses_the_language_default_zone(
    chat: tuple[Router, SubscriptionStore],
) -> None:
    conversation, subs = chat
    text = render_plain(conversation.subscribe(FR, "7h30"))
    assert "chaque jour à 07:30 (Europe/Paris), en français" in text
    assert "Prochain point : vendredi 27 novembre 2026 à 07:30" in text
    sub = subs.get(10)
    assert sub is not None and sub.zone == "Europe/Paris" and sub.at == dt.time(7, 30)
    assert "(UTC)" in render_plain(conversation.subscribe(EN, "08:00"))


def test_zone_names_in_any_case(chat: tuple[Router, SubscriptionStore]) -> None:
    conversation, subs = chat
    conversation.subscribe(EN, "07:30 america/MONTREAL")
    sub = subs.get(20)
    assert sub is not None and sub.zone == "America/Montreal"


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("25:99", "“25:99” is not a time of day"),
        ("08:00 Mars/Olympus", "“Mars/Olympus”"),
        ("<b>8</b>", "“<b>8</b>” is not a time"),
    ],
)
def test_bad_values_are_explained_with_an_example(
    chat: tuple[Router, SubscriptionStore], argument: str, expected: str
) -> None:
    conversation, subs = chat
    text = render_plain(conversation.subscribe(EN, argument))
    assert expected in text and "/subscribe 07:30 Europe/Paris" in text
    assert subs.get(20) is None


def test_menu_buttons_lead_to_a_subscription(
    chat: tuple[Router, SubscriptionStore],
) -> None:
    conversation, subs = chat
    menu = conversation.subscribe(FR, "")
    slots = [b.action for row in menu.buttons for b in row]
    assert "v1:subt:0730" in slots
    zones = conversation.action(FR, "v1:subt:0730")
    actions = [b.action for row in zones.buttons for b in row]
    assert actions[0] == "v1:subz:0730:0" and len(actions) == 7
    done = conversation.action(FR, "v1:subz:0730:3")
    assert "America/Montreal" in render_plain(done)
    assert subs.get(10) is not None
    assert "plus valable" in render_plain(conversation.action(FR, "v1:subz:0730:99"))


def test_settings_pause_weekdays_and_unsubscribe(
    chat: tuple[Router, SubscriptionStore],
) -> None:
    conversation, subs = chat
    assert "/subscribe" in render_plain(conversation.settings(EN))
    conversation.subscribe(EN, "07:00 Europe/London")
    paused = render_plain(conversation.action(EN, "v1:set:pause"))
    assert "Paused" in paused
    conversation.action(EN, "v1:set:resume")
    conversation.action(EN, "v1:set:days")
    sub = subs.get(20)
    assert sub is not None and not sub.paused and sub.weekdays_only and sub.since == NOW
    assert "Monday to Friday" in render_plain(conversation.settings(EN))
    confirm = conversation.unsubscribe(EN)
    assert [b.action for row in confirm.buttons for b in row] == ["v1:unsub:yes", "v1:unsub:no"]
    assert subs.get(20) is not None, "nothing is removed before the confirmation"
    conversation.action(EN, "v1:unsub:yes")
    assert subs.get(20) is None


def test_start_reactivates_a_blocked_subscriber(
    chat: tuple[Router, SubscriptionStore],
) -> None:
    conversation, subs = chat
    conversation.subscribe(FR, "07:30")
    subs.set_active(10, False)
    conversation.start(FR)
    sub = subs.get(10)
    assert sub is not None and sub.active


def test_a_private_digest_follows_lang(chat: tuple[Router, SubscriptionStore]) -> None:
    conversation, subs = chat
    conversation.subscribe(FR, "07:30")
    conversation.set_lang(FR, "en")
    sub = subs.get(10)
    assert sub is not None and sub.lang == "en"
    assert "Language: English" in render_plain(conversation.settings(FR))
