"""Bad, odd and hostile input end to end, in French and English, against ONE running bot.

The bot long-polls the Bot API double over real HTTP; every row of ``TABLE`` is one test, so
failures are reported per case id. A row says what to send (text, or a raw-update builder from
``tests.support.updates``), in which language and kind of chat, and what must come back: a
substring of the reply (all of them, for a tuple) or ``SILENT``.

Whatever the row, each case also checks that Telegram accepted every call the bot made (no 400
from the double's HTML parser or length limits), that every button press was answered, that no
traceback from our code or python-telegram-bot was logged, that the bot wrote to no other chat,
and that the JSON stores still parse.

Silence is proved, not waited for: after the case, a sentinel user sends /help; updates are
handled in order, so once the sentinel is answered (and the double has seen no call for a short
while) anything the case would have caused has happened.

A known bug is a row with ``bug="…"``: it runs as a strict xfail, so the fix flips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NamedTuple

import pytest
import pytest_asyncio

from bot.tg.app import BotApplication
from tests.support import updates
from tests.support.botapi_double import DEFAULT_BOT_USERNAME, BotApiDouble, Call, SentMessage
from tests.tg.conftest import polling, settings_for

pytestmark = pytest.mark.e2e

BOT: Final = DEFAULT_BOT_USERNAME
OTHER_BOT: Final = "other_helper_bot"
# Sentinel users (see _settle) each send one /help; the bot's flood gate mutes a user who sends
# more than 20 updates in 10 seconds, so one shared sentinel would soon be ignored.
SENTINELS: Final = range(5_000_000, 6_000_000)
# Digest sweeps run on the job queue; a frozen clock keeps them from ever finding one due.
FROZEN_NOW: Final = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
REPLY_TIMEOUT: Final = 5.0
QUIET_SECONDS: Final = 0.05
SETUP_REPLY_WAIT: Final = 2.0


class Silent:
    """The bot must make no call at all to the case's chat."""

    def __repr__(self) -> str:
        return "SILENT"


SILENT: Final = Silent()
Expect = str | tuple[str, ...] | Silent


# --------------------------------------------------------------------------------------------
# What a case can send
# --------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    """One case's user and chat, and what it sent so far."""

    double: BotApiDouble
    user_id: int
    chat_id: int
    chat_type: str
    language_code: str | None
    sent: list[dict[str, Any]] = field(default_factory=list)  # user messages, oldest first
    queries: list[str] = field(default_factory=list)  # callback query ids

    @property
    def private(self) -> bool:
        return self.chat_type == "private"

    def user(self) -> dict[str, Any]:
        return updates.user(self.user_id, self.language_code)

    def chat(self) -> dict[str, Any]:
        return updates.chat(self.chat_id, self.chat_type)

    def text(self, value: str, *, reply_to: int | None = None) -> None:
        if self.chat_type == "channel":
            self.raw(updates.text(value))
            return
        update = self.double.send_text(
            self.user_id,
            value,
            language_code=self.language_code,
            chat_id=None if self.private else self.chat_id,
            chat_type=self.chat_type,
            reply_to_message_id=reply_to,
        )
        self.sent.append(update["message"])

    def raw(self, content: dict[str, Any]) -> None:
        """A message with this content; in a channel, a channel post."""
        if self.chat_type == "channel":
            message = updates.message(self.chat(), None, content)
            self.double.send_update({"channel_post": message})
        else:
            message = updates.message(self.chat(), self.user(), content)
            self.double.send_update({"message": message})
        self.sent.append(message)

    def bot_messages(self) -> list[SentMessage]:
        return self.double.messages(self.chat_id)


Step = str | Callable[[Ctx], None]


def raw(content: Callable[[], dict[str, Any]]) -> Step:
    """A message built from ``tests.support.updates`` (sticker, photo, ...)."""
    return lambda ctx: ctx.raw(content())


def edit(new_text: str) -> Step:
    """Edit the case's last message (``edited_message``, or ``edited_channel_post``)."""

    def step(ctx: Ctx) -> None:
        kind = "edited_channel_post" if ctx.chat_type == "channel" else "edited_message"
        ctx.double.send_update({kind: updates.edited(ctx.sent[-1], new_text)})

    return step


def reply_to_bot(value: str) -> Step:
    """Text replying to the bot's last message in the chat."""
    return lambda ctx: ctx.text(value, reply_to=ctx.bot_messages()[-1].message_id)


def reply_to_user(value: str) -> Step:
    """Text replying to the case's own last message."""
    return lambda ctx: ctx.text(value, reply_to=ctx.sent[-1]["message_id"])


def press(data: str, *, on: int = -1) -> Step:
    """Press a button with any data (forged if need be) on a bot message (default: the last)."""

    def step(ctx: Ctx) -> None:
        message = ctx.bot_messages()[on]
        query = ctx.double.press_button(
            ctx.user_id,
            message.message_id,
            data,
            chat_id=None if ctx.private else ctx.chat_id,
            language_code=ctx.language_code,
            strict=False,
        )
        ctx.queries.append(query)

    return step


def press_inaccessible(data: str) -> Step:
    """Press a button on a message Telegram reports as inaccessible (older than 48 hours)."""

    def step(ctx: Ctx) -> None:
        message_id = ctx.bot_messages()[0].message_id
        query = updates.inaccessible_press(ctx.double, ctx.user(), ctx.chat(), message_id, data)
        ctx.queries.append(query)

    return step


def press_expired(data: str) -> Step:
    """Press a button whose answer Telegram refuses ("query is too old"): made while down."""

    def step(ctx: Ctx) -> None:
        query = updates.expired_press(
            ctx.double,
            ctx.user_id,
            ctx.bot_messages()[-1].message_id,
            data,
            chat_id=None if ctx.private else ctx.chat_id,
            language_code=ctx.language_code,
        )
        ctx.queries.append(query)

    return step


def react(ctx: Ctx) -> None:
    """A 👍 reaction on the bot's last message."""
    message_id = ctx.bot_messages()[-1].message_id
    ctx.double.send_update(
        {"message_reaction": updates.reaction(ctx.chat(), ctx.user(), message_id)}
    )


def bot_status(status: str) -> Step:
    """The bot's membership changed (blocked in private: "kicked"; added to a group)."""

    def step(ctx: Ctx) -> None:
        bot = {"id": ctx.double.bot_id, "is_bot": True, "first_name": "Bot", "username": BOT}
        payload = updates.my_chat_member(ctx.chat(), ctx.user(), bot, status)
        ctx.double.send_update({"my_chat_member": payload})

    return step


def burst(value: str, times: int) -> Step:
    """The same text ``times`` times at once, as a flooding user or a stuck client sends it."""

    def step(ctx: Ctx) -> None:
        for _ in range(times):
            ctx.text(value)

    return step


def block(ctx: Ctx) -> None:
    ctx.double.block(ctx.chat_id)


def unblock(ctx: Ctx) -> None:
    ctx.double.unblock(ctx.chat_id)


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row: ``setup`` runs first (its replies are not judged), then ``send`` is judged.

    ``count`` is the exact number of new bot messages (None: at least one). ``absent`` must not
    appear in the reply. ``allow`` lists error codes the case provokes on purpose (403 when the
    user blocked the bot, 400 for a press answered too late).
    """

    id: str
    send: Step
    lang: str | None
    expect: Expect
    chat: str = "private"
    setup: tuple[Step, ...] = ()
    count: int | None = 1
    absent: tuple[str, ...] = ()
    allow: frozenset[int] = frozenset()
    bug: str | None = None


def both(id_: str, send: Step, fr: Expect, en: Expect, **kw: Any) -> list[Case]:
    """The same row for a French (fr-FR) and an English (en-US) user."""
    return [
        Case(f"{id_}-fr", send, "fr-FR", fr, **kw),
        Case(f"{id_}-en", send, "en-US", en, **kw),
    ]


class Bi(NamedTuple):
    """An expected substring in French and in English."""

    fr: str
    en: str


# Replies, French then English.
HELLO = Bi("Bonjour", "Hello! I am partnerbrief")
HELP = Bi("Ce que je sais faire", "What I can do")
ASK_HINT = Bi("Posez-moi une question", "Ask me a question")
TOO_LONG = Bi("caractères", "characters long")
UNSUPPORTED = Bi("Je ne lis que le texte", "I can only read text")
UNKNOWN_COMMAND = Bi("Je ne connais pas la commande", "I don't know the command")
UNKNOWN_TOPIC = Bi("Je ne connais pas le thème", "I don't know the topic")
NOT_A_TIME = Bi("n’est pas une heure", "is not a time of day")
UNKNOWN_ZONE = Bi("Je ne connais pas le fuseau horaire", "I don't know the time zone")
NO_LANG = Bi("Je ne parle pas encore", "I don't speak")
CHOOSE_LANG = Bi("Choisissez une langue", "Choose a language")
STALE = Bi("Ce bouton n’est plus valable", "This button is no longer valid")
DECLINE = Bi("Je n’ai pas cette information", "I don't have that in my sources")
# Every answer ends with its numbered sources; a refusal has none.
ANSWER = Bi("\nSources\n[1] ", "\nSources\n[1] ")
SUBSCRIBED = Bi("Abonnement enregistré", "Subscribed: every day at")
NO_DIGEST = Bi("Vous n’avez pas encore", "You have no daily digest yet")
TOO_FAST = Bi("trop vite", "too fast")
ASK_ABOUT = Bi("Posez-moi votre question", "Ask me your question about")
BRIEFING = "[1]"  # every briefing and found answer cites its sources

QUESTION = {
    "fr": "Combien Microsoft a-t-il investi dans OpenAI ?",
    "en": "How much has Microsoft invested in OpenAI?",
}
HTML_SOUP = "<b>bold</b> </a> & <script>alert(1)</script> &amp; &lt;"
MARKDOWN_SOUP = r"*_[]()~`>#+-=|{}.!\ *** __ [] () ||"
FIFTY_ARGS = " ".join(f"arg{i}" for i in range(50))
ZWSP = "\u200b"


def pair(id_: str, send: Step, expected: Bi | str, **kw: Any) -> list[Case]:
    """``both`` with one expected substring per language (a plain str: the same in both)."""
    if isinstance(expected, str):
        return both(id_, send, expected, expected, **kw)
    return both(id_, send, expected.fr, expected.en, **kw)


def per_lang(id_: str, sends: dict[str, Step], expected: Bi, **kw: Any) -> list[Case]:
    """A row whose input differs per language (a question asked in the user's language)."""
    return [
        Case(f"{id_}-fr", sends["fr"], "fr-FR", expected.fr, **kw),
        Case(f"{id_}-en", sends["en"], "en-US", expected.en, **kw),
    ]


def silent(id_: str, send: Step, **kw: Any) -> list[Case]:
    return both(id_, send, SILENT, SILENT, **kw)


START = ("/start",)
G = {"chat": "group"}
SG = {"chat": "supergroup"}
CH = {"chat": "channel"}

TABLE: list[Case] = [
    # ---- empty, blank, invisible -------------------------------------------------------------
    # Telegram never delivers an empty text; if a client forges one, a hint is enough.
    *pair("empty-text", raw(lambda: {"text": ""}), UNSUPPORTED),
    *pair("spaces-only", "     ", ASK_HINT),
    *pair("tabs-newlines-only", "\n\t \n", ASK_HINT),
    *pair("ideographic-space-only", "\u3000\u3000", ASK_HINT),
    *pair(
        "zero-width-only",
        ZWSP * 3 + "\u2060\ufeff",
        ASK_HINT,
    ),
    *pair("ask-without-question", "/ask", ASK_HINT),
    *pair("ask-blank-question", "/ask      ", ASK_HINT),
    # ---- length (MAX_TEXT_CHARS is 1,000; Telegram's own limit is 4,096 UTF-16 units) ---------
    *pair("4096-ascii", "a" * 4096, TOO_LONG),
    *pair("10000-ascii", "word " * 2000, TOO_LONG),
    *pair("4096-utf16-emoji", "😀" * 2048, TOO_LONG),
    *pair("10000-utf16-flags", "🇫🇷" * 2500, TOO_LONG),
    *pair("1001-chars", "x" * 1001, TOO_LONG),
    *pair("ask-4096", "/ask " + "b" * 4091, TOO_LONG),
    *pair("brief-4000-arg", "/brief " + "c" * 4000, UNKNOWN_TOPIC),
    *pair("lang-4000-arg", "/lang " + "d" * 4000, NO_LANG),
    *pair("subscribe-4000-arg", "/subscribe " + "7" * 4000, NOT_A_TIME),
    # ---- emoji, RTL, combining and zero-width characters --------------------------------------
    *pair("emoji-only", "🤖🔥💸👨‍👩‍👧‍👦", DECLINE),
    *pair("emoji-999-codepoints", "🤖" * 999, DECLINE),
    *pair("arabic", "كم استثمرت مايكروسوفت في OpenAI؟", DECLINE),
    *pair("hebrew", "כמה השקיעה מיקרוסופט ב-OpenAI?", DECLINE),
    *per_lang(
        "rtl-override-marks",
        {"fr": "\u202e\u200f" + QUESTION["fr"], "en": "\u202e\u200f" + QUESTION["en"]},
        ANSWER,
    ),
    Case(
        "decomposed-accents-fr",
        "Quelle part des revenus OpenAI reverse-t-elle a\u0300 Microsoft ?",
        "fr-FR",
        ANSWER.fr,
    ),
    *per_lang(
        "zalgo",
        {
            "fr": "".join(c + "\u0336\u0301" for c in QUESTION["fr"]),
            "en": "".join(c + "\u0336\u0301" for c in QUESTION["en"]),
        },
        ANSWER,
    ),
    *per_lang(
        "zero-width-inside-words",
        {
            "fr": QUESTION["fr"].replace("Microsoft", f"Micro{ZWSP}soft"),
            "en": QUESTION["en"].replace("Microsoft", f"Micro{ZWSP}soft"),
        },
        ANSWER,
    ),
    # ---- HTML and MarkdownV2 metacharacters ----------------------------------------------------
    *pair("html-soup-question", HTML_SOUP, DECLINE),
    *pair("markdown-soup-question", MARKDOWN_SOUP, DECLINE),
    *per_lang(
        "markdown-around-question",
        {"fr": f"*{QUESTION['fr']}* _[]_", "en": f"||{QUESTION['en']}|| `~`"},
        ANSWER,
    ),
    *per_lang(
        "html-around-question",
        {"fr": f"<b>{QUESTION['fr']}</b> </a>", "en": f"<i>{QUESTION['en']}</i> </a>"},
        ANSWER,
    ),
    *both(
        "brief-html-arg",
        "/brief <b>ipo</b>",
        (UNKNOWN_TOPIC.fr, "« <b>ipo</b> »"),
        (UNKNOWN_TOPIC.en, "“<b>ipo</b>”"),
        absent=("&lt;",),
    ),
    *both(
        "lang-html-arg",
        "/lang </a>&amp;",
        (NO_LANG.fr, "</a>&amp;"),
        (NO_LANG.en, "</a>&amp;"),
        absent=("&lt;",),
    ),
    *both(
        "subscribe-markdown-arg",
        "/subscribe *_[]()~`",
        (NOT_A_TIME.fr, "*_[]()~`"),
        (NOT_A_TIME.en, "*_[]()~`"),
    ),
    *both(
        "subscribe-script-zone",
        "/subscribe 08:00 <script>alert(1)</script>",
        (UNKNOWN_ZONE.fr, "<script>alert(1)</script>"),
        (UNKNOWN_ZONE.en, "<script>alert(1)</script>"),
    ),
    *both(
        "unknown-command-with-ampersand",
        "/frob&amp;",
        (UNKNOWN_COMMAND.fr, "/frob&amp;"),
        (UNKNOWN_COMMAND.en, "/frob&amp;"),
    ),
    *pair("ask-html", "/ask " + HTML_SOUP, DECLINE),
    # ---- commands: suffixes, unknown, wrong arguments -----------------------------------------
    *pair("help-our-suffix", f"/help@{BOT}", HELP),
    *pair("start-suffix-mixed-case", f"/start@{BOT.upper()}", HELLO),
    *pair("help-uppercase", "/HELP", HELP),
    *pair("start-deep-link-html", "/start <script>x</script>", HELLO),
    *pair("unknown-command", "/frobnicate", UNKNOWN_COMMAND),
    *pair("unknown-command-64", "/" + "z" * 64, UNKNOWN_COMMAND, absent=("z" * 33,)),
    *pair("unknown-command-our-suffix", f"/frobnicate@{BOT}", UNKNOWN_COMMAND),
    *pair("subscribe-25-99", "/subscribe 25:99", NOT_A_TIME),
    *pair("subscribe-24-00", "/subscribe 24:00", NOT_A_TIME),
    *pair("subscribe-negative", "/subscribe -7", NOT_A_TIME),
    *pair("subscribe-mars", "/subscribe 08:00 Mars/Olympus", UNKNOWN_ZONE),
    *pair("subscribe-path-zone", "/subscribe 08:00 ../../etc/passwd", UNKNOWN_ZONE),
    *pair("subscribe-extra-args", "/subscribe 08:00 Europe/Paris and more", SUBSCRIBED),
    *pair("lang-de", "/lang de", NO_LANG),
    *pair("lang-without-arg", "/lang", CHOOSE_LANG),
    *pair("brief-nonsense", "/brief nonsense", UNKNOWN_TOPIC),
    *pair("brief-50-args", f"/brief {FIFTY_ARGS}", UNKNOWN_TOPIC, absent=("arg49",)),
    Case("brief-topic-then-junk-fr", f"/brief ipo {FIFTY_ARGS}", "fr-FR", BRIEFING, count=None),
    *pair("settings-without-subscription", "/settings", NO_DIGEST),
    Case("lang-no-language-code", "/lang xx", None, NO_LANG.en),
    Case("help-unsupported-language-code", "/help", "de-DE", HELP.en),
    Case("help-regional-french", "/help", "fr-CA", HELP.fr),
    # ---- forged and stale buttons (every press must be answered) ------------------------------
    *pair("button-unknown-prefix", press("zz:brief:ipo"), STALE, setup=START),
    *pair("button-unknown-version", press("v2:brief:ipo"), STALE, setup=START),
    *pair("button-64-bytes", press("v1:brief:" + "x" * 55), STALE, setup=START),
    *pair("button-empty-data", press(""), STALE, setup=START),
    *pair("button-html-data", press("v1:brief:<b>&amp;"), STALE, setup=START),
    *pair("button-extra-field", press("v1:brief:ipo:extra"), STALE, setup=START),
    *pair("button-unknown-topic", press("v1:ask:mars"), STALE, setup=START),
    *pair("button-bad-slot", press("v1:subt:2399"), STALE, setup=START),
    *pair("button-zone-out-of-range", press("v1:subz:0800:99"), STALE, setup=START),
    *pair(
        "button-superscript-zone-index",
        press("v1:subz:0800:²"),
        STALE,
        setup=START,
    ),
    *pair("button-valid-ask", press("v1:ask:ipo"), ASK_ABOUT, setup=START),
    *pair(
        "button-on-old-message",
        press("v1:brief:stakes", on=0),
        BRIEFING,
        setup=("/start", "/brief ipo"),
        count=None,
    ),
    *pair(
        "button-on-inaccessible-message",
        press_inaccessible("v1:brief:ipo"),
        BRIEFING,
        setup=START,
        count=None,
    ),
    *pair(
        "button-answered-too-late",
        press_expired("v1:brief:ipo"),
        BRIEFING,
        setup=START,
        count=None,
        allow=frozenset({400}),
    ),
    *pair("button-in-group", press("v2:forged"), STALE, setup=(f"/start@{BOT}",), **G),
    # ---- edited messages are never answered (again) -------------------------------------------
    *silent("edited-question", edit("What about the IPO?"), setup=("hello there",)),
    *silent("edited-into-command", edit("/help"), setup=("/help",)),
    *silent("edited-mention-in-group", edit(f"@{BOT} and the IPO?"), setup=(f"@{BOT} hi",), **G),
    # ---- groups: only what is addressed to the bot --------------------------------------------
    *silent("group-chatter", "did anyone see the news about OpenAI?", **G),
    *silent("group-mention-someone-else", "@someone_else what do you think?", **G),
    *silent("group-mention-lookalike-bot", f"@{BOT}_fake how much?", **G),
    *silent("group-email-lookalike", f"write to news@{BOT}.com", **G),
    *silent("group-other-bot-command", f"/help@{OTHER_BOT}", **G),
    *silent("group-other-bot-unknown-command", f"/frobnicate@{OTHER_BOT}", **G),
    *silent(
        "group-reply-to-a-person",
        reply_to_user("I agree"),
        setup=("the IPO is close",),
        **G,
    ),
    *silent(
        "group-unaddressed-unknown-command",
        "/frobnicate",
        **G,
    ),
    *pair("group-our-command", f"/help@{BOT}", HELP, **G),
    *pair("group-our-unknown-command", f"/frobnicate@{BOT}", UNKNOWN_COMMAND, **G),
    *pair("group-mention-only", f"@{BOT}", ASK_HINT, **G),
    *pair("group-mention-4096", f"@{BOT} " + "q" * 4000, TOO_LONG, **G),
    *pair("group-mention-html", f"@{BOT} {HTML_SOUP}", DECLINE, **SG),
    *per_lang(
        "group-mention-question",
        {"fr": f"@{BOT} {QUESTION['fr']}", "en": f"@{BOT.upper()} {QUESTION['en']}"},
        ANSWER,
        **SG,
    ),
    *per_lang(
        "group-reply-to-bot",
        {"fr": reply_to_bot(QUESTION["fr"]), "en": reply_to_bot(QUESTION["en"])},
        ANSWER,
        setup=(f"/help@{BOT}",),
        **G,
    ),
    # ---- channels: posts are never answered ---------------------------------------------------
    *silent("channel-post-command", f"/help@{BOT}", **CH),
    *silent("channel-post-mention", f"@{BOT} {QUESTION['en']}", **CH),
    *silent("channel-post-sticker", raw(updates.sticker), **CH),
    *silent("channel-post-edited", edit(f"@{BOT} edited"), setup=("first version",), **CH),
    # ---- not text ------------------------------------------------------------------------------
    *pair("private-sticker", raw(updates.sticker), UNSUPPORTED),
    *pair("private-photo", raw(updates.photo), UNSUPPORTED),
    *pair("private-photo-caption", raw(lambda: updates.photo(QUESTION["en"])), UNSUPPORTED),
    *pair("private-voice", raw(updates.voice), UNSUPPORTED),
    *pair("private-location", raw(updates.location), UNSUPPORTED),
    *pair("private-contact", raw(updates.contact), UNSUPPORTED),
    *pair("private-document", raw(updates.document), UNSUPPORTED),
    *pair("private-dice", raw(updates.dice), UNSUPPORTED),
    *silent("group-sticker", raw(updates.sticker), **G),
    *silent("group-photo-mention-caption", raw(lambda: updates.photo(f"@{BOT} hi")), **G),
    *silent("group-voice", raw(updates.voice), **G),
    *silent("group-location", raw(updates.location), **SG),
    *silent("group-contact", raw(updates.contact), **G),
    *silent("group-document", raw(updates.document), **SG),
    *silent("group-member-joined", raw(lambda: updates.new_members(updates.user(5))), **G),
    # ---- other update types --------------------------------------------------------------------
    *silent("reaction-on-reply", react, setup=("/help",)),
    *silent("bot-added-to-group", bot_status("member"), **G),
    *silent("bot-blocked-status", bot_status("kicked")),
    # ---- admin commands and buttons from a non-admin -----------------------------------------
    *pair("stats-not-admin", "/stats", UNKNOWN_COMMAND),
    *pair("broadcast-not-admin-html", "/broadcast <b>all</b> &amp; <script>", UNKNOWN_COMMAND),
    *pair("reload-not-admin-in-group", f"/reload@{BOT}", UNKNOWN_COMMAND, **G),
    *pair("button-forged-broadcast", press("v1:bc:yes:deadbeef"), STALE, setup=START),
    *pair("button-forged-broadcast-empty", press("v1:bc::"), STALE, setup=START),
    # ---- flooding: 20 updates in 10 s are served, then one warning, then silence --------------
    *pair("flood-25-commands", burst("/help", 25), TOO_FAST, count=21),
    # ---- a user who blocks the bot, then comes back --------------------------------------------
    *pair(
        "blocked-then-start",
        "/start",
        HELLO,
        setup=("/start", block, "/help", "What about the IPO?", "/brief ipo", unblock),
        allow=frozenset({403}),
    ),
]


def _params() -> Iterator[Any]:
    for case in TABLE:
        marks: list[pytest.MarkDecorator] = []
        if case.bug is not None:
            marks.append(pytest.mark.xfail(strict=True, reason=f"bug: {case.bug}"))
        yield pytest.param(case, id=case.id, marks=marks)


# --------------------------------------------------------------------------------------------
# One bot for the whole table
# --------------------------------------------------------------------------------------------


@dataclass
class Running:
    double: BotApiDouble
    app: BotApplication
    data_dir: Path


@pytest.fixture(scope="module")
def double() -> Iterator[BotApiDouble]:
    with BotApiDouble() as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(
    double: BotApiDouble, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Running]:
    data_dir = tmp_path_factory.mktemp("bad-input") / "data"
    assert double.bot_username == BOT, "commands with @suffixes address this name"
    async with polling(settings_for(double, data_dir), clock=lambda: FROZEN_NOW) as app:
        yield Running(double, app, data_dir)


_ids = itertools.count(10_000)
_sentinels = iter(SENTINELS)


def _not_polling(call: Call) -> bool:
    return call.method != "getUpdates"


async def _quiet(double: BotApiDouble) -> None:
    """Until the bot has made no call (polling aside) for QUIET_SECONDS."""
    deadline = time.monotonic() + REPLY_TIMEOUT
    last = sum(map(_not_polling, double.calls()))
    since = time.monotonic()
    while time.monotonic() - since < QUIET_SECONDS and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        now = sum(map(_not_polling, double.calls()))
        if now != last:
            last, since = now, time.monotonic()


async def _settle(double: BotApiDouble) -> None:
    """Every update sent so far has been handled, and the bot has gone quiet."""
    sentinel = next(_sentinels)
    double.send_text(sentinel, "/help", language_code="en")
    await double.await_messages(sentinel, 1, timeout=REPLY_TIMEOUT)
    await _quiet(double)


def _apply(ctx: Ctx, step: Step) -> None:
    if isinstance(step, str):
        ctx.text(step)
    else:
        step(ctx)


async def _run(double: BotApiDouble, ctx: Ctx, steps: Sequence[Step]) -> None:
    for step in steps:
        before = len(double.messages(ctx.chat_id))
        _apply(ctx, step)
        # Questions are handled with block=False, so the sentinel of _settle can be answered
        # first; on a loaded machine the setup's own reply then lands after the quiet spell
        # and is taken for a reply to the step under test. Wait for it (setups that get no
        # reply cost SETUP_REPLY_WAIT).
        with contextlib.suppress(TimeoutError):
            await double.await_for(
                lambda d, before=before: len(d.messages(ctx.chat_id)) > before,
                timeout=SETUP_REPLY_WAIT,
            )
        # One at a time: a block must not overtake the update sent before it.
        await _settle(double)


def _expected(expect: Expect) -> tuple[str, ...]:
    if isinstance(expect, Silent):
        return ()
    return (expect,) if isinstance(expect, str) else expect


def _reply_problems(case: Case, new: list[SentMessage], touching: list[Call]) -> list[str]:
    if isinstance(case.expect, Silent):
        if touching:
            shown = [(c.method, str(c.params.get("text", ""))[:80]) for c in touching]
            return [f"expected silence, the bot called {shown}"]
        return []
    problems = []
    observed = "\n---\n".join(m.plain_text for m in new)
    if not new:
        problems.append("no reply")
    for wanted in _expected(case.expect):
        if wanted not in observed:
            problems.append(f"{wanted!r} not in the reply")
    for unwanted in case.absent:
        if unwanted in observed:
            problems.append(f"{unwanted!r} is in the reply")
    if case.count is not None and len(new) != case.count:
        problems.append(f"{len(new)} messages instead of {case.count}")
    if problems:
        problems.append(f"observed reply: {observed[:600]!r}")
    return problems


def _call_problems(case: Case, ctx: Ctx, calls: list[Call]) -> list[str]:
    problems = []
    refused = [c for c in calls if not c.ok and c.error_code not in case.allow]
    if refused:
        problems.append(
            "Telegram refused: "
            + "; ".join(f"{c.method} {c.error_code} {c.description}" for c in refused)
        )
    elsewhere = {
        c.params.get("chat_id")
        for c in calls
        if c.method.startswith("send")
        and c.params.get("chat_id") != ctx.chat_id
        and c.params.get("chat_id") not in SENTINELS
    }
    if elsewhere:
        problems.append(f"the bot wrote to other chats: {sorted(map(str, elsewhere))}")
    answered = {
        c.params.get("callback_query_id") for c in calls if c.method == "answerCallbackQuery"
    }
    unanswered = [q for q in ctx.queries if q not in answered]
    if unanswered:
        problems.append(f"button presses never answered (answerCallbackQuery): {unanswered}")
    return problems


def _log_problems(records: list[logging.LogRecord]) -> list[str]:
    ours = [
        r
        for r in records
        if (r.name == "bot" or r.name.startswith(("bot.", "telegram.ext")))
        and (r.exc_info is not None or r.levelno >= logging.ERROR)
    ]
    return [f"logged by {r.name}: {r.getMessage()[:200]} ({r.exc_info!r:.120})" for r in ours]


def _store_problems(data_dir: Path) -> list[str]:
    problems = []
    stores = sorted(data_dir.glob("*.json"))
    if not stores:
        problems.append(f"no JSON store in {data_dir}")
    for path in stores:
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            problems.append(f"{path.name} does not parse: {exc}")
    return problems


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", list(_params()))
async def test_bad_input(case: Case, running: Running, caplog: pytest.LogCaptureFixture) -> None:
    """Each row: the expected reply (or silence), and nothing refused, unanswered or logged."""
    caplog.set_level(logging.WARNING)
    double = running.double
    user_id = next(_ids)
    chat_id = {"private": user_id, "channel": -1_000_000_000_000 - user_id}.get(
        case.chat, -user_id
    )
    ctx = Ctx(double, user_id, chat_id, case.chat, case.lang)
    first_call = len(double.calls())
    await _run(double, ctx, case.setup)

    baseline = len(ctx.bot_messages())
    send_call = len(double.calls())
    _apply(ctx, case.send)
    if not isinstance(case.expect, Silent):
        with contextlib.suppress(TimeoutError):  # reported below as "no reply"
            await double.await_for(
                lambda d: len(d.messages(chat_id)) > baseline, timeout=REPLY_TIMEOUT
            )
    await _settle(double)

    calls = double.calls()
    touching = [c for c in calls[send_call:] if c.params.get("chat_id") == chat_id]
    problems = [
        *_reply_problems(case, ctx.bot_messages()[baseline:], touching),
        *_call_problems(case, ctx, calls[first_call:]),
        *_log_problems(caplog.records),
        *_store_problems(running.data_dir),
        *(f"double internal error: {e}" for e in double.internal_errors()),
    ]
    assert not problems, f"[{case.id}]\n" + "\n".join(problems)


def test_table_is_large_unique_and_bilingual() -> None:
    """At least 60 rows, ids unique, and both languages covered."""
    ids = [case.id for case in TABLE]
    assert len(ids) >= 60
    assert len(set(ids)) == len(ids), [i for i in ids if ids.count(i) > 1]
    assert {c.lang for c in TABLE} >= {"fr-FR", "en-US"}
