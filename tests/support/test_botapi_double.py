"""Proves that the Bot API double behaves like Telegram where the bot depends on it.

Each test talks to a running double over real HTTP, either with raw httpx (to pin Telegram's exact
status codes and descriptions) or with python-telegram-bot's own ``Bot``/``Application`` (to show
what the bot sees: PTB strips "Bad Request: " and capitalizes the rest of the description).
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.support.botapi_double import (
    CONFLICT_POLL,
    NOT_MODIFIED,
    BotApiDouble,
    parse_html,
    parse_markdown_v2,
    parse_text,
    utf16_len,
)

USER = 42
GROUP = -1001234567890


@pytest.fixture
def double() -> Iterator[BotApiDouble]:
    with BotApiDouble() as running:
        yield running


@pytest.fixture
def api(double: BotApiDouble) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{double.base_url}{double.token}/") as client:
        yield client


@pytest.fixture
async def bot(double: BotApiDouble) -> AsyncIterator[Bot]:
    async with Bot(double.token, base_url=double.base_url) as ptb_bot:
        yield ptb_bot


@pytest.fixture
def chat(double: BotApiDouble) -> int:
    """A private chat the bot may write to, because the user wrote first."""
    double.send_text(USER, "/start")
    return USER


def keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data=data)]])


def post(api: httpx.Client, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    response = api.post(method, json=params)
    return response.status_code, response.json()


# ---------------------------------------------------------------------------- transport


def test_get_me_token_and_method_routing(double: BotApiDouble, api: httpx.Client) -> None:
    """getMe answers the bot user; names are case-insensitive; bad token 401, bad method 404."""
    status, body = post(api, "getMe")
    assert status == 200
    assert body["result"]["id"] == double.bot_id == 123456
    assert body["result"]["username"] == "partnerbrief_test_bot"
    assert api.get("GETME").json()["ok"] is True

    wrong = httpx.get(f"{double.base_url}123456:wrong/getMe")
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert post(api, "noSuchMethod") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )


async def test_ptb_bot_get_me(bot: Bot) -> None:
    """PTB's Bot initializes against the double and parses its getMe answer."""
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "partnerbrief_test_bot", True)


def test_json_form_and_multipart_bodies_decode_alike(
    double: BotApiDouble, api: httpx.Client, chat: int
) -> None:
    """JSON-valued form fields and numbers sent as strings decode as if sent as JSON."""
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    api.post("sendMessage", json={"chat_id": chat, "text": "x", "reply_markup": markup})
    api.post(
        "sendMessage",
        data={
            "chat_id": str(chat),
            "text": "x",
            "reply_markup": '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}',
        },
    )
    api.post(
        "sendMessage",
        data={"chat_id": str(chat), "text": "x"},
        files={
            "reply_markup": (None, '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}')
        },
    )
    params = [call.params for call in double.calls("sendMessage")]
    assert params[0] == params[1] == params[2]
    assert [m.reply_markup for m in double.messages(chat)] == [markup] * 3


# ---------------------------------------------------------------------------- getUpdates


async def test_get_updates_offset_confirms_earlier_updates(double: BotApiDouble, bot: Bot) -> None:
    """Unconfirmed updates are delivered again; offset=last+1 confirms and drops them."""
    double.send_text(USER, "one")
    double.send_text(USER, "two")
    first = await bot.get_updates()
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    assert first[1].update_id == first[0].update_id + 1
    assert [u.update_id for u in await bot.get_updates()] == [u.update_id for u in first]

    assert await bot.get_updates(offset=first[-1].update_id + 1) == ()
    assert double.pending_updates() == []


def test_user_message_update_looks_like_telegram(double: BotApiDouble) -> None:
    """Simulated messages carry chat, sender, date and command/mention entities in UTF-16."""
    update = double.send_text(USER, "/start@partnerbrief_test_bot hi @someone", username="ann")
    message = update["message"]
    assert message["chat"] == {
        "id": USER,
        "first_name": "Test",
        "username": "ann",
        "type": "private",
    }
    assert message["from"]["language_code"] == "en"
    assert message["entities"] == [
        {"type": "bot_command", "offset": 0, "length": 28},
        {"type": "mention", "offset": 32, "length": 8},
    ]
    parsed = Update.de_json(update, None)
    assert parsed.message is not None
    assert parsed.message.text == "/start@partnerbrief_test_bot hi @someone"

    group = double.send_text(USER, "😀 /help", chat_id=GROUP, chat_type="supergroup")["message"]
    assert group["chat"]["type"] == "supergroup" and group["chat"]["title"]
    assert group["entities"] == [{"type": "bot_command", "offset": 3, "length": 5}]


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    double: BotApiDouble, bot: Bot
) -> None:
    """getUpdates with a timeout blocks until an update is enqueued, then answers at once."""
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await double.await_for(lambda d: d.active_long_polls == 1, description="a waiting poll")
    started = time.monotonic()
    double.send_text(USER, "hello")
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1
    assert [u.message.text for u in updates if u.message] == ["hello"]


async def test_overlapping_get_updates_conflict(double: BotApiDouble, bot: Bot) -> None:
    """A second getUpdates ends the waiting one with Telegram's 409 Conflict."""
    async with httpx.AsyncClient(base_url=f"{double.base_url}{double.token}/") as client:
        first = asyncio.create_task(client.post("getUpdates", json={"timeout": 5}))
        await double.await_for(lambda d: d.active_long_polls == 1)
        second = await client.post("getUpdates", json={"timeout": 0})
        assert second.json() == {"ok": True, "result": []}
        response = await first
    assert response.status_code == 409
    assert response.json() == {"ok": False, "error_code": 409, "description": CONFLICT_POLL}

    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await double.await_for(lambda d: d.active_long_polls == 1)
    async with httpx.AsyncClient() as client:
        await client.post(f"{double.base_url}{double.token}/getUpdates")
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await poll


def test_allowed_updates_persist_and_filter_new_updates(
    double: BotApiDouble, api: httpx.Client
) -> None:
    """Opt-in update types are dropped unless allowed; allowed_updates persists across calls."""
    member = {"chat_member": {"chat": {"id": GROUP, "type": "group", "title": "G"}}}
    double.send_update(member)
    assert double.pending_updates() == [] and len(double.dropped_updates()) == 1

    post(api, "getUpdates", allowed_updates=["message", "chat_member"])
    double.send_update(member)
    double.send_update({"callback_query": {"id": "1", "chat_instance": "1", "data": "x"}})
    assert [next(iter(u.keys() - {"update_id"})) for u in double.pending_updates()] == [
        "chat_member"
    ]


def test_stop_answers_pending_long_polls_and_joins(double: BotApiDouble) -> None:
    """stop() ends a waiting long poll with an empty result instead of leaving it hanging."""
    url = f"{double.base_url}{double.token}/getUpdates"
    answers: list[httpx.Response] = []
    poller = threading.Thread(target=lambda: answers.append(httpx.post(url, json={"timeout": 30})))
    poller.start()
    double.wait_for(lambda d: d.active_long_polls == 1)
    started = time.monotonic()
    double.stop()
    poller.join(5)
    assert time.monotonic() - started < 2
    assert answers[0].json() == {"ok": True, "result": []}


# ---------------------------------------------------------------------------- sendMessage


async def test_message_length_counts_utf16_units_of_parsed_text(bot: Bot, chat: int) -> None:
    """4096 emoji are 8192 UTF-16 units and rejected; 4096 visible chars pass even with markup."""
    with pytest.raises(BadRequest) as too_long:
        await bot.send_message(chat, "😀" * 4096)
    assert too_long.value.message == "Message is too long"
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(chat, "<b>" + "a" * 4097 + "</b>", parse_mode="HTML")

    assert (await bot.send_message(chat, "a" * 4096)).text == "a" * 4096
    tagged = await bot.send_message(chat, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    assert tagged.text == "a" * 4096
    escaped = await bot.send_message(chat, "&amp;" * 4096, parse_mode="HTML")
    assert escaped.text == "&" * 4096
    assert utf16_len("😀" * 2048) == 4096
    assert (await bot.send_message(chat, "😀" * 2048)).text == "😀" * 2048


def test_empty_text_and_unknown_chat(api: httpx.Client, chat: int) -> None:
    """Whitespace or tags only is empty; a chat nobody wrote from is not found."""
    assert post(api, "sendMessage", chat_id=chat, text="  \n ")[1]["description"] == (
        "Bad Request: message text is empty"
    )
    assert (
        post(api, "sendMessage", chat_id=chat, text="<b></b>", parse_mode="HTML")[1]["description"]
        == "Bad Request: message text is empty"
    )
    assert post(api, "sendMessage", chat_id=777, text="hi") == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("é <b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("😀 < 2", 'Unsupported start tag "" at byte offset 5'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("</b>", "Unexpected end tag at byte offset 0"),
    ],
)
def test_html_errors_carry_telegram_descriptions(
    api: httpx.Client, chat: int, text: str, description: str
) -> None:
    """HTML parse errors answer 400 with Telegram's text and UTF-8 byte offsets."""
    assert post(api, "sendMessage", chat_id=chat, text=text, parse_mode="HTML") == (
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": f"Bad Request: can't parse entities: {description}",
        },
    )


async def test_ptb_surfaces_html_errors_as_bad_request(bot: Bot, chat: int) -> None:
    """PTB raises BadRequest with the description minus its prefix, capitalized."""
    with pytest.raises(BadRequest) as error:
        await bot.send_message(chat, "a <foo> b", parse_mode="HTML")
    assert error.value.message == (
        'Can\'t parse entities: unsupported start tag "foo" at byte offset 2'
    )


def test_markdown_v2_requires_escaping_reserved_characters(api: httpx.Client, chat: int) -> None:
    """An unescaped reserved character fails; escaped it passes and entities are parsed."""
    assert post(api, "sendMessage", chat_id=chat, text="Costs 5.00", parse_mode="MarkdownV2")[1][
        "description"
    ] == (
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
        "with the preceding '\\'"
    )
    status, body = post(
        api, "sendMessage", chat_id=chat, text="*Costs* 5\\.00", parse_mode="MarkdownV2"
    )
    assert status == 200
    assert body["result"]["text"] == "Costs 5.00"
    assert body["result"]["entities"] == [{"type": "bold", "offset": 0, "length": 5}]


def test_parsers_produce_utf16_entities() -> None:
    """Entity offsets count UTF-16 units; unknown named entities stay literal like Telegram."""
    assert parse_html("😀 <b>é</b> &nbsp;&lt;") == (
        "😀 é &nbsp;<",
        [{"type": "bold", "offset": 3, "length": 1}],
    )
    assert parse_html('<pre><code class="language-py">x</code></pre>')[1] == [
        {"type": "pre", "offset": 0, "length": 1, "language": "py"}
    ]
    assert parse_markdown_v2("||s|| [a](https://e.com/x\\)y)")[1] == [
        {"type": "spoiler", "offset": 0, "length": 1},
        {"type": "text_link", "offset": 2, "length": 1, "url": "https://e.com/x)y"},
    ]
    assert parse_text("*b* _i_", "Markdown")[0] == "b i"


def test_inline_keyboard_validation(api: httpx.Client, chat: int) -> None:
    """callback_data must be 1-64 UTF-8 bytes, URLs http(s)/tg, and a button needs an action."""

    def send(button: dict[str, Any]) -> str | None:
        markup = {"inline_keyboard": [[{"text": "B", **button}]]}
        body = post(api, "sendMessage", chat_id=chat, text="k", reply_markup=markup)[1]
        return None if body["ok"] else body["description"]

    assert send({"callback_data": "é" * 32}) is None
    assert send({"callback_data": "é" * 33}) == "Bad Request: BUTTON_DATA_INVALID"
    assert send({"callback_data": ""}) == "Bad Request: BUTTON_DATA_INVALID"
    assert send({"url": "https://example.com"}) is None
    assert send({"url": "javascript:alert(1)"}) == "Bad Request: BUTTON_URL_INVALID"
    assert send({}) == (
        "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard"
    )


async def test_ptb_callback_data_over_64_bytes_is_rejected(bot: Bot, chat: int) -> None:
    """The bot sees BadRequest for oversized callback_data."""
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.send_message(chat, "k", reply_markup=keyboard("x" * 65))


async def test_blocked_user_is_forbidden(double: BotApiDouble, bot: Bot, chat: int) -> None:
    """Sending to a user who blocked the bot raises Forbidden until unblocked."""
    double.block(chat)
    with pytest.raises(Forbidden, match=r"^Forbidden: bot was blocked by the user$"):
        await bot.send_message(chat, "hello")
    double.unblock(chat)
    assert (await bot.send_message(chat, "hello")).text == "hello"


async def test_get_chat_member_reports_the_roles_set_for_a_group(
    double: BotApiDouble, bot: Bot, api: httpx.Client
) -> None:
    """PTB parses each role into its ChatMember class; unknown users and bad ids are refused."""
    for user in (1, 2, 3):
        double.send_text(user, "hi", chat_id=GROUP, chat_type="supergroup")
    double.set_administrators(GROUP, [2], creator=3)
    members = [await bot.get_chat_member(GROUP, user) for user in (1, 2, 3)]
    assert [type(m).__name__ for m in members] == [
        "ChatMemberMember",
        "ChatMemberAdministrator",
        "ChatMemberOwner",
    ]
    assert post(api, "getChatMember", chat_id=GROUP, user_id=99) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: user not found"},
    )
    assert post(api, "getChatMember", chat_id=GROUP, user_id="x")[0] == 400
    double.block(GROUP)
    with pytest.raises(Forbidden, match="kicked from the supergroup chat"):
        await bot.get_chat_member(GROUP, 1)


async def test_send_message_draft(double: BotApiDouble, bot: Bot, chat: int) -> None:
    """Drafts are recorded with parsed text; an empty draft text is a placeholder."""
    assert await bot.send_message_draft(chat, 7, "<b>partial</b>", parse_mode="HTML") is True
    assert await bot.send_message_draft(chat, 7, "") is True
    assert [(d.draft_id, d.plain_text) for d in double.drafts(chat)] == [(7, "partial"), (7, "")]
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message_draft(chat, 7, "😀" * 2049)


# ---------------------------------------------------------------------------- flood control


def test_flood_limits_answer_429_with_retry_after() -> None:
    """Opt-in limits: a small burst per private chat, 20 per minute per group."""
    with (
        BotApiDouble(enforce_flood_limits=True) as double,
        httpx.Client(base_url=f"{double.base_url}{double.token}/") as api,
    ):
        double.send_text(USER, "hi")
        double.send_text(USER, "hi", chat_id=GROUP, chat_type="group")
        private = [post(api, "sendMessage", chat_id=USER, text="x") for _ in range(4)]
        assert [status for status, _ in private] == [200, 200, 200, 429]
        assert private[-1][1] == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        }
        group = [post(api, "sendMessage", chat_id=GROUP, text="x")[0] for _ in range(21)]
        assert group == [200] * 20 + [429]
        assert len(double.messages(USER)) == 3


# ---------------------------------------------------------------------------- faults


async def test_fail_next_retry_after_reaches_ptb(
    double: BotApiDouble, bot: Bot, chat: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An injected 429 becomes RetryAfter; the following call succeeds."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB warns on int retry_after otherwise
    double.fail_next(
        "sendmessage", status=429, description="Too Many Requests: retry after 7", retry_after=7
    )
    with pytest.raises(RetryAfter) as error:
        await bot.send_message(chat, "hello")
    assert error.value.retry_after == dtm.timedelta(seconds=7)
    assert (await bot.send_message(chat, "hello")).text == "hello"
    assert [c.fault for c in double.calls("sendMessage")] == ["fail", None]
    assert len(double.messages(chat)) == 1


async def test_delay_and_reset_faults(double: BotApiDouble, bot: Bot, chat: int) -> None:
    """A slow answer times the client out although the message was sent; a reset drops it."""
    double.delay_next("sendMessage", 2.0)
    with pytest.raises(TimedOut):
        await bot.send_message(chat, "slow", read_timeout=0.2)
    assert [m.text for m in double.messages(chat)] == ["slow"]

    double.reset_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(chat, "lost")
    assert [m.text for m in double.messages(chat)] == ["slow"]
    assert (await bot.send_message(chat, "after")).text == "after"


# ---------------------------------------------------------------------------- edits and buttons


async def test_edit_message_text_not_modified(double: BotApiDouble, bot: Bot, chat: int) -> None:
    """Same text and markup is 'not modified'; real edits keep history; no markup drops it."""
    sent = await bot.send_message(chat, "<b>Hi</b>", parse_mode="HTML", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest) as error:
        await bot.edit_message_text(
            "<b>Hi</b>", chat, sent.message_id, parse_mode="HTML", reply_markup=keyboard("a")
        )
    assert error.value.message == NOT_MODIFIED.removeprefix("Bad Request: ").capitalize()

    await bot.edit_message_text("Bye", chat, sent.message_id)
    [message] = double.messages(chat)
    assert (message.plain_text, message.reply_markup, message.edit_date is not None) == (
        "Bye",
        None,
        True,
    )
    assert [old.plain_text for old in message.history] == ["Hi"]
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("x", chat, 999)


async def test_answer_callback_query_only_once(double: BotApiDouble, bot: Bot, chat: int) -> None:
    """A callback query can be answered once; later or unknown ids are 'too old'."""
    sent = await bot.send_message(chat, "pick", reply_markup=keyboard("go"))
    query_id = double.press_button(chat, sent.message_id, "go")
    [update] = await bot.get_updates(offset=-1)
    assert update.callback_query is not None
    assert update.callback_query.message is not None
    assert update.callback_query.message.message_id == sent.message_id
    assert update.callback_query.data == "go"

    assert await bot.answer_callback_query(query_id, text="done") is True
    with pytest.raises(BadRequest, match=r"^Query is too old"):
        await bot.answer_callback_query(query_id)
    assert double.answered_callback_ids() == [query_id]

    other = double.press_button(chat, sent.message_id, "go")
    with pytest.raises(BadRequest, match=r"^Message_too_long$"):
        await bot.answer_callback_query(other, text="x" * 201)
    with pytest.raises(ValueError, match="no button"):
        double.press_button(chat, sent.message_id, "nope")


# ---------------------------------------------------------------------------- commands


async def test_bot_commands_per_scope_and_language(double: BotApiDouble, bot: Bot) -> None:
    """Commands are stored per (scope, language) and validated like Telegram."""
    scope = BotCommandScopeAllPrivateChats()
    assert await bot.set_my_commands([("start", "Begin")], scope=scope, language_code="fr")
    assert double.commands({"type": "all_private_chats"}, "fr") == [
        {"command": "start", "description": "Begin"}
    ]
    assert await bot.get_my_commands(scope=scope, language_code="fr") == (
        BotCommand("start", "Begin"),
    )
    assert await bot.get_my_commands() == ()
    assert await bot.delete_my_commands(scope=scope, language_code="fr")
    assert double.commands({"type": "all_private_chats"}, "fr") == []

    with pytest.raises(BadRequest, match=r"^Bot_command_invalid$"):
        await bot.set_my_commands([("Start", "Begin")])
    with pytest.raises(BadRequest, match=r"^Bot_command_description_invalid$"):
        await bot.set_my_commands([("start", "")])
    with pytest.raises(BadRequest, match=r"^Bot_commands_too_much$"):
        await bot.set_my_commands([(f"c{i}", "d") for i in range(101)])


# ---------------------------------------------------------------------------- end to end


async def test_application_polls_and_replies_end_to_end(double: BotApiDouble) -> None:
    """A real PTB Application long-polls the double, answers /start and a button press."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "Hello <b>there</b>", parse_mode="HTML", reply_markup=keyboard("go")
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("ok")
        await update.callback_query.edit_message_text("Pressed")

    app = ApplicationBuilder().token(double.token).base_url(double.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=dtm.timedelta(seconds=1))
        double.send_text(USER, "/start")
        [reply] = await double.await_messages(USER, 1)
        assert (reply.plain_text, reply.callback_data) == ("Hello there", ["go"])

        query_id = double.press_button(USER, reply.message_id, "go")
        await double.await_for(lambda d: d.messages(USER)[0].plain_text == "Pressed")
        assert double.answered_callback_ids() == [query_id]
        await app.updater.stop()
        await app.stop()
    assert double.pending_updates() == []
    assert double.internal_errors() == []


# ---------------------------------------------------------------------------- several replicas


def test_webhook_updates_are_spread_round_robin_over_the_targets(double: BotApiDouble) -> None:
    """Each update goes to the next replica's URL, as behind a round-robin load balancer."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen: list[int] = []
    servers = []
    for index in range(2):

        class Hook(BaseHTTPRequestHandler):
            number = index

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                seen.append(self.number)
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = HTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        double.spread_webhooks(f"http://127.0.0.1:{s.server_port}/hook" for s in servers)
        statuses = [
            double.deliver_spread({"message": {"message_id": n, "text": "hi"}})[1]
            for n in range(1, 5)
        ]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert statuses == [200] * 4
    assert seen == [0, 1, 0, 1]


def test_pushed_webhooks_carry_each_update_with_the_secret_and_retry_a_refusal(
    double: BotApiDouble,
) -> None:
    """Once pushing, send_text's updates are POSTed to the targets in turn with the registered
    secret token; a delivery answered 500 is counted and sent again until it is taken."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    taken: list[tuple[int, str, str]] = []
    refusals = [1]  # the first delivery is refused once

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            update = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if refusals:
                refusals.pop()
                self.send_response(500)
            else:
                secret = self.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
                taken.append((self.server.server_port, update["message"]["text"], secret))
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Hook) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    api = httpx.Client(base_url=f"{double.base_url}{double.token}/")
    try:
        api.post("setWebhook", json={"url": "https://bot.example.test/h", "secret_token": "s3"})
        double.push_webhooks(
            (f"http://127.0.0.1:{s.server_port}/hook" for s in servers), connections=1
        )
        double.send_text(7, "one")
        double.send_text(7, "two")
        double.wait_for(lambda _: len(taken) == 2, timeout=10)
        failures = double.push_failures()
    finally:
        double.stop_pushing()
        api.close()
        for server in servers:
            server.shutdown()
            server.server_close()
    ports = [s.server_port for s in servers]
    assert [(text, secret) for _, text, secret in taken] == [("one", "s3"), ("two", "s3")]
    assert [port for port, _, _ in taken] == ports  # "one" retried at its target, then the next
    assert len(failures) == 1 and "HTTP 500" in failures[0]
    assert double.pending_updates() == []  # pushed, not queued for getUpdates


def test_send_rate_peak_counts_accepted_sends_in_any_sliding_second(
    double: BotApiDouble, api: httpx.Client, chat: int
) -> None:
    """Five sends at once then one 1.2 s later: the peak over one second is five; refused
    sends do not count."""
    for _ in range(5):
        assert post(api, "sendMessage", chat_id=chat, text="x")[0] == 200
    assert post(api, "sendMessage", chat_id=999_999, text="x")[0] == 400
    time.sleep(1.2)
    assert post(api, "sendMessage", chat_id=chat, text="x")[0] == 200
    assert double.send_rate_peak() == 5
    assert double.send_rate_peak(window=10) == 6
