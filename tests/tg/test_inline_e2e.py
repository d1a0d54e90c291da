"""Inline mode over real HTTP: answerInlineQuery as Telegram validates it."""

from __future__ import annotations

import asyncio

import pytest

from bot.tg.app import BotApplication
from tests.support.botapi_double import BotApiDouble
from tests.tg.conftest import assert_all_accepted

pytestmark = pytest.mark.e2e


async def test_words_give_fact_cards_with_a_deep_link(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    query_id = double.send_inline_query(10, "Microsoft stake OpenAI", language_code="en")
    answer = await double.await_inline_answer(query_id)
    assert answer.is_personal and answer.cache_time == 300
    assert 1 <= len(answer.results) <= 10
    ids = [r["id"] for r in answer.results]
    assert len(set(ids)) == len(ids) and all(len(i.encode()) <= 64 for i in ids)
    first = answer.results[0]
    assert first["type"] == "article" and first["title"] and first["description"]
    assert first["input_message_content"]["parse_mode"] == "HTML"
    [[button]] = first["reply_markup"]["inline_keyboard"]
    assert button["url"] == f"https://t.me/{double.bot_username}?start=fact_{first['id']}"
    card = answer.plain_texts[0]
    assert "Status:" in card and "Sources" in card and "https://" in card
    assert any("27%" in text for text in answer.plain_texts)

    # The link opens the same fact in the bot.
    payload = button["url"].split("?start=", 1)[1]
    double.send_text(10, f"/start {payload}", language_code="en")
    [opened] = await double.await_messages(10, 1)
    assert "Status:" in opened.plain_text
    assert_all_accepted(double)


async def test_language_comes_from_the_user(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    query_id = double.send_inline_query(11, "participation Microsoft", language_code="fr")
    answer = await double.await_inline_answer(query_id)
    assert answer.results and all("Statut :" in t for t in answer.plain_texts)
    assert any("27 %" in t or "27\u202f%" in t or "27\xa0%" in t for t in answer.plain_texts)
    assert_all_accepted(double)


async def test_empty_query_offers_the_overview_headline_facts(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    library = polling_bot.bot_data.services.library() if polling_bot.bot_data.services else None
    assert library is not None
    query_id = double.send_inline_query(12, "", language_code="en")
    answer = await double.await_inline_answer(query_id)
    expected = list(library.briefings["overview"].fact_ids[:10])
    assert [r["id"] for r in answer.results] == expected
    assert_all_accepted(double)


@pytest.mark.parametrize(
    "junk",
    [
        "zq" * 128,
        ("<b><i>&amp;</i></b><script>x</script>" * 8)[:256],
        "🙂" * 256,
        "\u200b" * 256,
        ("🏳️‍🌈 " * 60)[:256],
    ],
)
async def test_junk_gets_an_empty_answer(
    double: BotApiDouble, polling_bot: BotApplication, junk: str
) -> None:
    assert len(junk) <= 256
    query_id = double.send_inline_query(13, junk, language_code="en")
    answer = await double.await_inline_answer(query_id)
    assert answer.results == []
    assert double.internal_errors() == []
    assert_all_accepted(double)


async def test_inline_queries_go_through_the_flood_gate(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    ids = [double.send_inline_query(14, "ipo", language_code="en") for _ in range(30)]
    await double.await_for(lambda d: len(d.inline_answers()) >= 20, timeout=15)
    await asyncio.sleep(0.5)  # any answer beyond the 20th would have arrived by now
    answered = {a.query_id for a in double.inline_answers()}
    assert answered == set(ids[:20])
    assert double.messages(14) == []  # no chat to warn in
    # The same user's messages are muted too; others are served.
    double.send_text(14, "/help", language_code="en")
    double.send_text(15, "/help", language_code="en")
    await double.await_messages(15, 1)
    await asyncio.sleep(0.3)
    assert double.messages(14) == []
    assert_all_accepted(double)


async def test_the_double_refuses_what_telegram_refuses(double: BotApiDouble) -> None:
    import json
    import urllib.error
    import urllib.request

    def call(results: list[dict[str, object]]) -> str:
        query_id = double.send_inline_query(16, "x")
        body = json.dumps({"inline_query_id": query_id, "results": results}).encode()
        request = urllib.request.Request(
            f"{double.base_url}{double.token}/answerInlineQuery",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return str(json.load(response)["ok"])
        except urllib.error.HTTPError as error:
            with error:
                return str(json.load(error)["description"])

    def art(rid: str, text: str = "hi", **extra: object) -> dict[str, object]:
        content = {"message_text": text, "parse_mode": "HTML"}
        return {"type": "article", "id": rid, "title": "t", "input_message_content": content} | (
            extra
        )

    assert call([art("a"), art("b")]) == "True"
    assert "RESULT_ID_DUPLICATE" in call([art("a"), art("a")])
    assert "RESULT_ID_INVALID" in call([art("x" * 65)])
    assert "RESULT_ID_INVALID" in call([art("")])
    assert "RESULTS_TOO_MUCH" in call([art(str(i)) for i in range(51)])
    assert "too long" in call([art("a", "x" * 4097)])
    assert call([art("a", "<b>" + "x" * 4096 + "</b>")]) == "True"  # 4096 after parsing
    assert "can't parse entities" in call([art("a", "<b>open")])
    assert "empty" in call([art("a", "<b></b>")])
    bad_markup = {"inline_keyboard": [[{"text": "x"}]]}
    assert "Text buttons" in call([art("a", reply_markup=bad_markup)])
