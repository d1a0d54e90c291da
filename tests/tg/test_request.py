"""The bot's requests: JSON calls on a bounded pool of kept-alive connections, uploads through
httpx, each answer tracked for /readyz and each flood-control answer reported, over real HTTP
against the Bot API double."""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest

from bot.tg.app import BotApplication
from bot.tg.request import TrackingRequest
from tests.support.botapi_double import BotApiDouble
from tests.support.fsync import hold_fsync

pytestmark = pytest.mark.e2e
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


async def test_calls_share_a_bounded_pool_of_kept_alive_connections(double: BotApiDouble) -> None:
    """Two connections, two slow calls in flight: a third waits for the pool and times out
    saying so; calls in a row afterwards reuse the connections."""
    request = TrackingRequest(connection_pool_size=2)
    url = f"{double.base_url}{double.token}/getMe"
    await request.initialize()
    try:
        double.delay_next("getMe", 0.5, times=2)
        busy = [asyncio.create_task(request.post(url)) for _ in range(2)]
        await asyncio.sleep(0.2)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await request.post(url, pool_timeout=0.1)
        answers = await asyncio.gather(*busy)
        assert all(isinstance(a, dict) and a["is_bot"] for a in answers)
        for _ in range(5):
            await request.post(url)
        assert double.connections_opened == 2
    finally:
        await request.shutdown()


async def test_parameters_go_as_json_and_files_as_multipart(double: BotApiDouble) -> None:
    """A keyboard and HTML text arrive as the double reads them from any encoding; a photo
    upload (which the lean client does not do) still arrives, through httpx."""
    request = TrackingRequest(connection_pool_size=2)
    bot = Bot(double.token, base_url=double.base_url, request=request)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Vue d'ensemble", callback_data="x")]])
    double.send_text(42, "hello")  # the chat exists once its user wrote
    async with bot:
        await bot.send_message(
            42, "<b>5 % &amp; “plus”</b>", parse_mode="HTML", reply_markup=markup
        )
        await bot.send_photo(42, PNG, caption="chart")
    [sent] = double.calls("sendMessage")
    assert sent.params["chat_id"] == 42
    assert sent.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Vue d'ensemble", "callback_data": "x"}]]
    }
    [message] = [m for m in double.messages(42) if m.text]
    assert message.plain_text == "5 % & “plus”"
    [photo] = double.calls("sendPhoto")
    assert photo.ok and photo.params["caption"] == "chart"


async def test_answers_and_flood_waits_are_tracked(double: BotApiDouble) -> None:
    request = TrackingRequest(connection_pool_size=2)
    floods: list[int] = []
    request.on_flood = lambda: floods.append(1)
    url = f"{double.base_url}{double.token}/getMe"
    await request.initialize()
    try:
        assert request.last_answer == 0.0
        await request.post(url)
        assert time.monotonic() - request.last_answer < 5
        double.fail_next(
            "getMe", status=429, description="Too Many Requests: retry after 1", retry_after=1
        )
        with pytest.raises(RetryAfter):
            await request.post(url)
        assert floods == [1]
    finally:
        await request.shutdown()


def test_answers_are_decoded_by_orjson_and_what_it_refuses_by_ptb() -> None:
    """A JSON object decodes as PTB's own decoder would; bytes that are not UTF-8 are decoded
    with replacement, as PTB does; a body that is not JSON raises PTB's error."""
    payload = '{"ok": true, "result": {"text": "5 % “plus”", "n": 1.5}}'.encode()
    assert TrackingRequest.parse_json_payload(payload) == BaseRequest.parse_json_payload(payload)
    broken = b'{"ok": true, "result": "caf\xe9"}'
    assert TrackingRequest.parse_json_payload(broken) == {"ok": True, "result": "caf\ufffd"}
    with pytest.raises(TelegramError, match="Invalid server response"):
        TrackingRequest.parse_json_payload(b"<html>502</html>")


async def test_each_call_waits_for_the_stores_and_goes_anyway_if_they_cannot_say(
    double: BotApiDouble, caplog: pytest.LogCaptureFixture
) -> None:
    """before_send is awaited before every call leaves; when it reports the changes not on
    disk in time, the call still goes and a warning says so."""
    request = TrackingRequest(connection_pool_size=2)
    asked: list[float] = []

    async def not_on_disk(within: float) -> bool:
        asked.append(within)
        return False

    request.before_send = not_on_disk
    url = f"{double.base_url}{double.token}/getMe"
    await request.initialize()
    try:
        answer = await request.post(url)
    finally:
        await request.shutdown()
    assert isinstance(answer, dict) and answer["is_bot"]
    assert asked and asked[0] > 0
    assert "not on disk" in caplog.text


async def test_a_reply_about_a_change_waits_until_the_change_is_fsynced(
    double: BotApiDouble, polling_bot: BotApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/lang fr changes the user's durable record: while its fsync is held the confirmation is
    not sent; once the journal's thread has fsynced it, the reply goes."""
    user = 5151
    double.send_text(user, "/start", language_code="en")
    await double.await_messages(user, 1)
    release = hold_fsync(monkeypatch, 10)
    double.send_text(user, "/lang fr", language_code="en")
    await double.await_for(lambda d: not d.pending_updates(), timeout=5)  # the bot took it
    await asyncio.sleep(0.5)
    assert len(double.messages(user)) == 1  # the welcome only: the confirmation is held
    release.set()
    messages = await double.await_messages(user, 2)
    assert "français" in messages[-1].plain_text


async def test_get_updates_waits_for_room_and_counts_what_it_fetched(double: BotApiDouble) -> None:
    """The bot asks Telegram for more updates only once it has room for them; the bot's other
    calls never wait for that."""
    request = TrackingRequest()
    room = asyncio.Event()
    asked: list[int] = []

    async def before_poll(fetched: int) -> None:
        asked.append(fetched)
        await room.wait()

    request.before_poll = before_poll
    double.send_text(4242, "hello")
    double.send_text(4242, "again")
    base = f"{double.base_url}{double.token}"
    await request.initialize()
    try:
        await asyncio.wait_for(request.post(f"{base}/getMe"), 5)  # not held
        polling = asyncio.create_task(request.post(f"{base}/getUpdates"))
        await asyncio.sleep(0.1)
        assert not polling.done() and asked == [0]
        assert len(double.pending_updates()) == 2  # still at Telegram
        room.set()
        updates = await asyncio.wait_for(polling, 5)
        assert isinstance(updates, list) and len(updates) == 2
        assert request.fetched == 2
    finally:
        await request.shutdown()


async def test_get_updates_asks_anyway_when_room_never_comes(
    double: BotApiDouble, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong count of unfinished updates must slow polling down, never stop it."""
    monkeypatch.setattr("bot.tg.request.ROOM_WAIT", 0.2)
    request = TrackingRequest()
    never = asyncio.Event()

    async def before_poll(fetched: int) -> None:
        await never.wait()

    request.before_poll = before_poll
    double.send_text(4343, "hello")
    await request.initialize()
    try:
        url = f"{double.base_url}{double.token}/getUpdates"
        updates = await asyncio.wait_for(request.post(url), 5)
        assert isinstance(updates, list) and len(updates) == 1
        assert "no room for more updates" in caplog.text
    finally:
        await request.shutdown()
