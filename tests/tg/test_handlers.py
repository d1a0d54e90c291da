"""Handlers driven through the real Application with process_update; Telegram is recorded."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Update

from bot.config import Settings
from bot.tg.app import BotApplication, build_application
from tests.tg.recording import BOT, RecordingRequest

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ123456789"


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[tuple[BotApplication, RecordingRequest]]:
    request = RecordingRequest()
    settings = Settings(
        telegram_token=TOKEN, data_dir=settings.data_dir, content_dir=settings.content_dir
    )
    application = build_application(settings, request=request, get_updates_request=request)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    # Running, because question handlers are non-blocking tasks (block=False).
    await application.start()
    yield application, request
    await application.stop()
    await application.shutdown()
    assert application.post_shutdown is not None
    await application.post_shutdown(application)


_ids = iter(range(1, 10_000))


def message(
    text: str,
    *,
    user: int = 10,
    lang: str | None = "fr",
    chat_type: str = "private",
    chat_id: int | None = None,
) -> dict[str, Any]:
    entities = []
    if text.startswith("/"):
        entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
    return {
        "update_id": next(_ids),
        "message": {
            "message_id": next(_ids),
            "date": int(dt.datetime.now().timestamp()),
            "text": text,
            "entities": entities,
            "chat": {
                "id": chat_id or user,
                "type": chat_type,
                **({"title": "g"} if chat_type != "private" else {}),
            },
            "from": {
                "id": user,
                "is_bot": False,
                "first_name": "T",
                **({"language_code": lang} if lang else {}),
            },
        },
    }


def press(data: str, *, query_id: str, user: int, lang: str) -> dict[str, Any]:
    """A button press on one of the bot's messages in a private chat."""
    return {
        "update_id": next(_ids),
        "callback_query": {
            "id": query_id,
            "chat_instance": "c",
            "data": data,
            "from": {"id": user, "is_bot": False, "first_name": "T", "language_code": lang},
            "message": {
                "message_id": 5,
                "date": 0,
                "chat": {"id": user, "type": "private"},
                "from": BOT,
                "text": "x",
            },
        },
    }


async def feed(app: BotApplication, raw: dict[str, Any]) -> None:
    """Process one update and wait for the handler tasks it started (block=False ones)."""
    await app.process_update(Update.de_json(raw, app.bot))
    pending = [t for t in asyncio.all_tasks() if "process_update_non_blocking" in t.get_name()]
    await asyncio.gather(*pending)


async def test_start_in_french_with_topic_keyboard(
    app: tuple[BotApplication, RecordingRequest],
) -> None:
    application, request = app
    await feed(application, message("/start", lang="fr-CA"))
    [sent] = request.sent()
    assert sent["text"].startswith("<b>Bonjour")
    assert sent["parse_mode"] == "HTML"
    rows = sent["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for row in rows for b in row] == [
        "v1:brief:overview",
        "v1:brief:stakes",
        "v1:brief:revenue",
        "v1:brief:infrastructure",
        "v1:brief:ipo",
    ]


async def test_commands_are_published_per_language(
    app: tuple[BotApplication, RecordingRequest],
) -> None:
    _, request = app
    published = request.sent("setMyCommands")
    by_lang = {p.get("language_code"): p["commands"] for p in published}
    assert set(by_lang) == {"fr", "en", None}
    fr = {c["command"]: c["description"] for c in by_lang["fr"]}
    assert fr["lang"].startswith("changer de langue")
    assert by_lang[None] == by_lang["en"]


async def test_brief_topic_and_button(app: tuple[BotApplication, RecordingRequest]) -> None:
    application, request = app
    await feed(application, message("/brief bourse", lang="en"))
    text = request.sent()[-1]["text"]
    assert "<b>Sources</b>" in text and "[1]" in text
    await feed(application, press("v1:brief:revenue", query_id="q1", user=10, lang="en"))
    assert request.sent("answerCallbackQuery")[-1]["callback_query_id"] == "q1"
    assert "revenue" in request.sent()[-1]["text"].lower()


async def test_forged_button_is_answered_and_explained(
    app: tuple[BotApplication, RecordingRequest],
) -> None:
    application, request = app
    await feed(application, press("v9:" + "z" * 61, query_id="q2", user=11, lang="fr"))
    assert request.sent("answerCallbackQuery")[-1]["callback_query_id"] == "q2"
    assert "plus valable" in request.sent()[-1]["text"]


async def test_lang_persists_across_updates(app: tuple[BotApplication, RecordingRequest]) -> None:
    application, request = app
    await feed(application, message("/lang fr", lang="en", user=12))
    await feed(application, message("/help", lang="en", user=12))
    assert request.sent()[-1]["text"].startswith("<b>Ce que je sais faire")


async def test_unknown_command_and_html_in_user_text_are_escaped(
    app: tuple[BotApplication, RecordingRequest],
) -> None:
    application, request = app
    await feed(application, message("/frobnicate", lang="en"))
    assert "/frobnicate" in request.sent()[-1]["text"]
    await feed(application, message("/brief <b>x</b>&", lang="en"))
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in request.sent()[-1]["text"]


async def test_group_chatter_is_ignored_but_commands_answered(
    app: tuple[BotApplication, RecordingRequest],
) -> None:
    application, request = app
    await feed(application, message("hello all", chat_type="group", chat_id=-5))
    await feed(application, message("/other@someone_else_bot", chat_type="group", chat_id=-5))
    assert request.sent() == []
    await feed(application, message("/brief@partnerbrief_bot ipo", chat_type="group", chat_id=-5))
    assert request.sent()[-1]["chat_id"] == -5


async def test_long_text_gets_a_reply_not_a_crash(
    app: tuple[BotApplication, RecordingRequest],
) -> None:
    application, request = app
    await feed(application, message("é" * 5000, lang="en"))
    assert "5,000 characters" in request.sent()[-1]["text"]


async def test_sticker_in_private_gets_a_hint(
    app: tuple[BotApplication, RecordingRequest],
) -> None:
    application, request = app
    raw = message("x", lang="fr")
    del raw["message"]["text"]
    del raw["message"]["entities"]
    raw["message"]["sticker"] = {
        "file_id": "f",
        "file_unique_id": "u",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    await feed(application, raw)
    assert "que le texte" in request.sent()[-1]["text"]


async def test_a_failing_handler_gets_a_localized_apology_not_a_traceback(
    app: tuple[BotApplication, RecordingRequest],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    application, request = app
    services = application.bot_data.services
    assert services is not None

    def broken(*args: object) -> None:
        raise RuntimeError("injected failure")

    monkeypatch.setattr(services.router, "topics", broken)
    await feed(application, message("/topics", lang="fr"))
    text = request.sent()[-1]["text"]
    assert text.startswith("Désolé") and "injected" not in text and "Traceback" not in text
    assert any("injected failure" in str(r.exc_info) for r in caplog.records if r.exc_info)


async def test_plain_text_in_private_is_answered_with_citations(
    app: tuple[BotApplication, RecordingRequest],
) -> None:
    application, request = app
    await feed(application, message("Combien Microsoft a-t-il investi dans OpenAI ?", lang="en"))
    text = request.sent()[-1]["text"]
    # The direct answer first, then the cited facts.
    assert text.startswith("<b>Plus de 13 milliards de dollars, selon Financial Times [2].</b>")
    assert "[1]" in text and "milliards de dollars" in text


async def test_ask_command_answers_anywhere(app: tuple[BotApplication, RecordingRequest]) -> None:
    application, request = app
    await feed(
        application,
        message("/ask Who are Stargate's founders?", chat_type="group", chat_id=-9, lang="fr"),
    )
    sent = request.sent()[-1]
    assert sent["chat_id"] == -9 and "MGX" in sent["text"]


async def test_group_question_needs_a_mention_or_a_reply(
    app: tuple[BotApplication, RecordingRequest],
) -> None:
    application, request = app
    await feed(
        application, message("How much did Microsoft invest?", chat_type="group", chat_id=-7)
    )
    assert request.sent() == []
    raw = message(
        "@partnerbrief_bot How much did Microsoft invest?",
        chat_type="group",
        chat_id=-7,
        lang="en",
    )
    raw["message"]["entities"] = [{"type": "mention", "offset": 0, "length": 17}]
    await feed(application, raw)
    assert "$13 billion" in request.sent()[-1]["text"]
    reply = message("and the IPO?", chat_type="group", chat_id=-7, lang="en")
    reply["message"]["reply_to_message"] = {
        "message_id": 1,
        "date": 0,
        "from": BOT,
        "chat": {"id": -7, "type": "group", "title": "g"},
        "text": "x",
    }
    await feed(application, reply)
    assert len(request.sent()) == 2 and "listing" in request.sent()[-1]["text"]


async def test_ask_about_this_primes_the_next_question(
    app: tuple[BotApplication, RecordingRequest],
) -> None:
    application, request = app
    await feed(application, message("/brief infrastructure", lang="en", user=21))
    rows = request.sent()[-1]["reply_markup"]["inline_keyboard"]
    assert rows[0][0]["callback_data"] == "v1:ask:infrastructure"
    await feed(application, press("v1:ask:infrastructure", query_id="q9", user=21, lang="en"))
    assert "Ask me your question about Infrastructure" in request.sent()[-1]["text"]
