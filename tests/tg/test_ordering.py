"""Updates of different chats are handled at once, each chat's in order: unit checks of the
processor with real PTB updates, then end to end through the application and the double."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from pathlib import Path
from typing import Any

import pytest
from telegram import Chat, Message, Update, User
from telegram.ext import Application

from bot.tg.app import build_application
from bot.tg.ordering import AdmittingQueue, PerChatOrder, order_key
from tests.support.botapi_double import BotApiDouble
from tests.tg.conftest import settings_for, stop_application

WHEN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _update(update_id: int, chat_id: int) -> Update:
    chat = Chat(chat_id, Chat.PRIVATE)
    user = User(chat_id, "reader", is_bot=False)
    return Update(update_id, message=Message(update_id, WHEN, chat, from_user=user, text="hi"))


async def test_one_chat_waits_for_its_previous_update_and_no_other() -> None:
    processor = PerChatOrder(8)
    log: list[str] = []
    release = asyncio.Event()

    async def handle(name: str, wait: bool = False) -> None:
        log.append(f"{name} starts")
        if wait:
            await release.wait()
        log.append(f"{name} ends")

    first = asyncio.create_task(processor.process_update(_update(1, 42), handle("a1", True)))
    second = asyncio.create_task(processor.process_update(_update(2, 42), handle("a2")))
    other = asyncio.create_task(processor.process_update(_update(3, 7), handle("b")))
    await other
    assert log == ["a1 starts", "b starts", "b ends"], "chat 7 did not wait for chat 42"
    release.set()
    await asyncio.gather(first, second)
    assert log[3:] == ["a1 ends", "a2 starts", "a2 ends"]
    assert processor.chats_in_flight == 0


async def test_a_failed_update_lets_the_next_of_its_chat_run() -> None:
    processor = PerChatOrder(8)
    ran: list[int] = []

    async def fail() -> None:
        raise RuntimeError("handler bug")

    async def record() -> None:
        ran.append(2)

    failing = asyncio.create_task(processor.process_update(_update(1, 42), fail()))
    following = asyncio.create_task(processor.process_update(_update(2, 42), record()))
    with pytest.raises(RuntimeError):
        await failing
    await following
    assert ran == [2]


async def test_an_update_cancelled_while_waiting_its_turn_never_runs() -> None:
    processor = PerChatOrder(8)
    release, ran = asyncio.Event(), []

    async def hold() -> None:
        await release.wait()

    async def record() -> None:
        ran.append(2)

    holding = asyncio.create_task(processor.process_update(_update(1, 42), hold()))
    waiting = asyncio.create_task(processor.process_update(_update(2, 42), record()))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await holding
    assert ran == [] and processor.chats_in_flight == 0


def test_updates_are_ordered_by_chat_then_by_user() -> None:
    assert order_key(_update(1, 42)) == ("chat", 42)
    assert order_key(Update(2)) is None
    assert order_key("not an update") is None


@pytest.mark.e2e
async def test_a_slow_reply_to_one_chat_does_not_hold_another(
    polling_bot: Application, double: BotApiDouble
) -> None:
    assert isinstance(polling_bot.update_processor, PerChatOrder)
    double.delay_next("sendMessage", 1.5, apply=False)
    double.send_text(1001, "/help")
    await double.await_for(lambda d: bool(d.calls("getUpdates")) and not d.messages(1001))
    await asyncio.sleep(0.3)  # /help's reply is on its way, held by the double
    double.send_text(1002, "/help")
    await double.await_messages(1002, 1, timeout=1.0)
    assert double.messages(1001) == [], "the other chat was answered while this one waited"
    await double.await_messages(1001, 1, timeout=3.0)


@pytest.mark.e2e
async def test_one_chats_updates_are_answered_in_order(
    polling_bot: Application, double: BotApiDouble
) -> None:
    double.delay_next("sendMessage", 1.0, apply=False)
    double.send_text(1001, "/help")
    double.send_text(1001, "/topics")
    help_, topics = await double.await_messages(1001, 2, timeout=5.0)
    assert help_.plain_text.startswith("What I can do"), "/help first, as sent"
    assert topics.plain_text.startswith("Topics") and help_.message_id < topics.message_id
    assert [c.params["text"][:20] for c in double.calls("sendMessage")] == [
        help_.text[:20],
        topics.text[:20],
    ]


async def test_past_its_backlog_the_processor_has_no_room_until_an_update_finishes() -> None:
    processor = PerChatOrder(8, backlog=2)
    release = asyncio.Event()

    async def handle() -> None:
        await release.wait()

    running = [
        asyncio.create_task(processor.process_update(_update(n, n), handle())) for n in (1, 2)
    ]
    await asyncio.wait_for(processor.room(fetched=1), 1)  # one fetched, none done: room
    waiting = asyncio.create_task(processor.room(fetched=2))
    await asyncio.sleep(0.05)
    assert not waiting.done(), "two unfinished of a backlog of two: no room"
    release.set()
    await asyncio.gather(*running)
    await asyncio.wait_for(waiting, 1)
    assert processor.finished == 2


async def test_past_its_backlog_a_put_waits_for_room_and_signals_never_do() -> None:
    processor = PerChatOrder(8, backlog=2)
    queue = AdmittingQueue()
    queue.room = processor.room
    release = asyncio.Event()

    async def handle() -> None:
        await release.wait()

    for n in (1, 2):
        await asyncio.wait_for(queue.put(_update(n, n)), 1)
    running = [
        asyncio.create_task(processor.process_update(await queue.get(), handle())) for _ in (1, 2)
    ]
    third = asyncio.create_task(queue.put(_update(3, 3)))
    await asyncio.sleep(0.05)
    assert not third.done(), "two admitted and unfinished of a backlog of two: no room"
    signal = object()
    await asyncio.wait_for(queue.put(signal), 1)  # PTB's stop signal is never held
    release.set()
    await asyncio.gather(*running)
    await asyncio.wait_for(third, 1)
    assert queue.admitted == 3 and queue.qsize() == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _help(chat_id: int) -> dict[str, Any]:
    return {
        "message": {
            "message_id": chat_id,
            "date": int(WHEN.timestamp()),
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "W", "language_code": "en"},
        }
    }


@pytest.mark.e2e
async def test_past_its_backlog_a_webhook_delivery_is_answered_once_there_is_room(
    double: BotApiDouble, tmp_path: Path
) -> None:
    """Over HTTP, through PTB's webhook server: with two updates unfinished (their replies held
    by the double) and a backlog of two, Telegram's third POST gets its answer only once one of
    them finishes, so Telegram keeps the rest; nothing is lost."""
    port = _free_port()
    settings = settings_for(
        double,
        tmp_path / "data",
        webhook_url="https://bot.example.org/tg-hook",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_secret="s" * 32,
    )
    app = build_application(settings)
    await app.initialize()
    assert app.post_init is not None and app.updater is not None
    await app.post_init(app)
    assert isinstance(app.update_processor, PerChatOrder)
    app.update_processor.backlog = 2
    await app.updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path="tg-hook",
        webhook_url=settings.webhook_url,
        secret_token=settings.webhook_secret,
    )
    await app.start()
    target = f"http://127.0.0.1:{port}/tg-hook"
    try:
        double.delay_next("sendMessage", 2.0, times=2, apply=False)
        for chat in (501, 502):
            assert await asyncio.to_thread(double.deliver_webhook, target, _help(chat)) == 200
        third = asyncio.create_task(asyncio.to_thread(double.deliver_webhook, target, _help(503)))
        await asyncio.sleep(0.5)
        assert not third.done(), "no answer to Telegram while two updates are unfinished"
        assert await asyncio.wait_for(third, 10) == 200
        for chat in (501, 502, 503):
            await double.await_messages(chat, 1, timeout=10)
    finally:
        await stop_application(app)
