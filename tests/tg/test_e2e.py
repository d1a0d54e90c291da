"""End to end over real HTTP: the bot long-polls a Bot API double on 127.0.0.1.

The double enforces Telegram's limits (4096 UTF-16 units, HTML parsing, callback_data size), so
these tests fail if the bot sends anything real Telegram would refuse.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.tg.app import BotApplication
from tests import timetravel
from tests.conftest import REPO
from tests.support.botapi_double import BotApiDouble
from tests.tg.conftest import assert_all_accepted

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("code", "hello", "overview", "stakes_word"),
    [
        ("fr-FR", "Bonjour", "Vue d’ensemble", "Participations"),
        ("en-US", "Hello", "Overview", "Stakes"),
    ],
)
async def test_start_brief_button_and_lang_over_http(
    double: BotApiDouble,
    polling_bot: BotApplication,
    code: str,
    hello: str,
    overview: str,
    stakes_word: str,
) -> None:
    user = 4242
    double.send_text(user, "/start", language_code=code)
    [welcome] = await double.await_messages(user, 1)
    assert welcome.plain_text.startswith(hello)
    buttons = [b for row in welcome.reply_markup["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons][:2] == [overview, stakes_word]

    double.send_text(user, "/brief", language_code=code)
    messages = await double.await_messages(user, 2)
    assert "[1]" in messages[-1].plain_text and "Sources" in messages[-1].plain_text

    stakes = next(b for b in buttons if b["callback_data"] == "v1:brief:stakes")
    double.press_button(user, welcome.message_id, stakes["callback_data"], language_code=code)
    messages = await double.await_messages(user, 3)
    assert double.answered_callback_ids(), "the button press was answered"
    assert "[1]" in messages[-1].plain_text

    other = "en" if code.startswith("fr") else "fr"
    double.send_text(user, f"/lang {other}", language_code=code)
    messages = await double.await_messages(user, 4)
    expected = "From now on" if other == "en" else "Désormais"
    assert messages[-1].plain_text.startswith(expected)
    double.send_text(user, "/brief ipo", language_code=code)
    messages = await double.await_messages(user, 5)
    assert ("Sources" in messages[-1].plain_text) and (
        ("Why it matters" in messages[-1].plain_text) == (other == "en")
    )
    assert_all_accepted(double)


async def test_commands_menu_is_published_in_both_languages(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    fr = {c["command"]: c["description"] for c in double.commands(language_code="fr")}
    en = {c["command"]: c["description"] for c in double.commands(language_code="en")}
    assert set(fr) == set(en) >= {"brief", "topics", "sources", "lang", "help"}
    assert fr["help"] != en["help"]


async def test_bad_input_gets_clear_replies(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    user = 777
    cases = [
        ("/brief nonsense", "Je ne connais pas le thème"),
        ("/frobnicate", "Je ne connais pas la commande"),
        ("/lang klingon", "Je ne parle pas encore"),
        ("<b>bold</b> & <a href='x'>", "Je n’ai pas cette information"),
        ("😀" * 5000, "caractères"),
    ]
    for index, (text, expected) in enumerate(cases, 1):
        double.send_text(user, text, language_code="fr")
        messages = await double.await_messages(user, index)
        assert expected in messages[-1].plain_text, (text[:20], messages[-1].plain_text)
    assert_all_accepted(double)


async def test_every_briefing_fits_telegram_in_both_languages(
    double: BotApiDouble, polling_bot: BotApplication
) -> None:
    topics = ["", "stakes", "revenue", "infrastructure", "ipo"]
    count = 0
    for lang in ("fr", "en"):
        for topic in topics:
            double.send_text(99, f"/brief {topic}".strip(), language_code=lang)
            count += 1
            await double.await_messages(99, count)
    assert_all_accepted(double)


def test_python_m_bot_runs_against_the_double_and_stops_on_sigterm(
    double: BotApiDouble, tmp_path: Path
) -> None:
    """The real command line: polling, a reply, a clean exit, and no token in the logs."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **timetravel.child_env(),
        "TELEGRAM_BOT_TOKEN": double.token,
        "TELEGRAM_API_BASE_URL": double.base_url,
        "BOT_DATA_DIR": str(tmp_path / "data"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        double.send_text(31, "/brief bourse", language_code="fr-CA")
        [reply] = double.wait_for_messages(31, 1, timeout=30)
        assert "Sources" in reply.plain_text
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    logs = out + err
    assert "Application started" in logs or "content imported" in logs
    assert double.token not in logs
    assert double.token.split(":")[1] not in logs
