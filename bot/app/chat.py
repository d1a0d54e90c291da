"""The conversation: one place that answers every command, for Telegram and the console."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.app.stats import Stats
from bot.compose.answer import Answer, extractive_answer
from bot.compose.briefing import compose_briefing, compose_sources
from bot.core.domain import Block, Button, Lang, Library, Reply
from bot.core.text import fold, visible, words
from bot.digests.subscribing import Subscribing
from bot.i18n.translator import Translator, lang_of, negotiate, translator
from bot.qa.deciding import Confirmer, Scope, ask_of, scope_of
from bot.qa.memory import ChatMemory, Turn
from bot.qa.retrieval.index import FactIndex, SearchResult
from bot.qa.retrieval.langdetect import detect_lang

ACTION_VERSION = "v1"
MAX_TEXT_CHARS = 1000
COMMANDS = (
    "start",
    "brief",
    "topics",
    "sources",
    "lang",
    "ask",
    "subscribe",
    "settings",
    "unsubscribe",
    "help",
)


class Preferences(Protocol):
    """What the conversation needs from the user store."""

    def get_lang(self, user_id: int) -> Lang | None: ...

    def set_lang(self, user_id: int, lang: Lang) -> None: ...


@dataclass(frozen=True)
class Who:
    """The sender of an update, as much as the conversation needs to know."""

    user_id: int
    language_code: str | None = None
    chat_id: int | None = None  # None: a private chat, whose id is the user's

    @property
    def chat(self) -> int:
        return self.user_id if self.chat_id is None else self.chat_id


@dataclass(frozen=True)
class Asked:
    """A question's outcome: the extractive reply, and what an LLM may rephrase."""

    reply: Reply
    answer: Answer
    question: str
    scope: Scope = "in"  # whether it is about our subject at all (qa/deciding.py)


@dataclass(frozen=True)
class Action:
    """A parsed button payload: ``v1:<verb>:<argument>``."""

    verb: str
    argument: str

    def encode(self) -> str:
        return f"{ACTION_VERSION}:{self.verb}:{self.argument}"


def _ascii_digits(value: str, length: int | None = None) -> bool:
    """str.isdigit() also accepts "²" and other digits int() refuses."""
    return value.isascii() and value.isdigit() and (length is None or len(value) == length)


_SETTINGS = frozenset({"time", "pause", "resume", "days", "quiet", "unsub"})


def parse_action(data: str | None, library: Library) -> Action | None:
    """Strictly parse callback data; anything unknown, stale or forged gives None."""
    if not data or len(data.encode()) > 64:
        return None
    parts = data.split(":")
    if len(parts) < 3 or parts[0] != ACTION_VERSION:
        return None
    verb, args = parts[1], parts[2:]
    valid = {
        "brief": len(args) == 1 and args[0] in library.briefings,
        "ask": len(args) == 1 and args[0] in {t.id for t in library.topics},
        "subt": len(args) == 1 and _ascii_digits(args[0], 4),
        "subz": len(args) == 2 and _ascii_digits(args[0], 4) and _ascii_digits(args[1]),
        "set": len(args) == 1 and args[0] in _SETTINGS,
        "unsub": len(args) == 1 and args[0] in ("yes", "no"),
        "bc": len(args) == 2 and args[0] in ("yes", "no") and len(args[1]) == 8,
    }.get(verb, False)
    return Action(verb, ":".join(args)) if valid else None


class Conversation:
    """Answers commands with Replies; adapters only parse, render and send."""

    def __init__(
        self,
        library: Callable[[], Library],
        prefs: Preferences,
        default_lang: Lang = "en",
        *,
        index: Callable[[], FactIndex] | None = None,
        memory: ChatMemory | None = None,
        subscribing: Subscribing | None = None,
        stats: Stats | None = None,
        confirmer: Confirmer | None = None,
    ) -> None:
        self._confirmer = confirmer or Confirmer(None)
        self._library = library
        self._prefs = prefs
        self._default_lang = default_lang
        self._index = index
        self.memory = memory or ChatMemory()
        self._subscribing = subscribing
        self._stats = stats or Stats()

    def translator_for(self, who: Who) -> Translator:
        lang, locale = negotiate(
            self._prefs.get_lang(who.user_id), who.language_code, self._default_lang
        )
        return translator(lang, locale)

    def translator_for_lang(self, who: Who, lang: Lang) -> Translator:
        """The translator for ``lang``, keeping the user's region for formats when it fits."""
        return translator(lang, negotiate(lang, who.language_code, self._default_lang)[1])

    # ---- commands -------------------------------------------------------------------------

    def start(self, who: Who) -> Reply:
        tr = self.translator_for(who)
        if self._subscribing is not None:
            self._subscribing.reactivate(who.chat)
        lines = (
            tr.gettext("Hello! I am partnerbrief."),
            tr.gettext(
                "I brief you on the OpenAI–Microsoft partnership: stakes, revenue share, "
                "datacenter infrastructure and the road to an IPO."
            ),
            tr.gettext("Every fact is sourced and dated. Pick a topic, or send /help."),
        )
        blocks = (Block("title", lines[0]), Block("text", lines[1]), Block("text", lines[2]))
        return Reply(tr.lang, blocks, self._topic_keyboard(tr))

    def help(self, who: Who) -> Reply:
        tr = self.translator_for(who)
        blocks = [Block("title", tr.gettext("What I can do"))]
        for command, description in command_descriptions(tr):
            blocks.append(Block("text", f"/{command} — {description}"))
        blocks.append(
            Block(
                "note",
                tr.gettext("Topics for /brief: {topics}.").format(
                    topics=", ".join(self._topic_words(tr))
                ),
            )
        )
        return Reply(tr.lang, tuple(blocks))

    def topics(self, who: Who) -> Reply:
        tr = self.translator_for(who)
        library = self._library()
        blocks = [Block("title", tr.gettext("Topics"))]
        for topic in library.topics:
            headline = library.briefings[topic.id].headline.get(tr.lang)
            blocks.append(
                Block("text", f"{topic.label.get(tr.lang)} (/brief {topic.id}): {headline}")
            )
        return Reply(tr.lang, tuple(blocks), self._topic_keyboard(tr))

    def brief(self, who: Who, argument: str | None = None) -> Reply:
        tr = self.translator_for(who)
        library = self._library()
        briefing_id = (
            "overview"
            if not argument or not argument.strip()
            else (library.topic_for_alias(argument.split()[0]))
        )
        if briefing_id is None:
            text = tr.gettext("I don't know the topic “{topic}”. Try one of: {topics}.").format(
                topic=_shorten(argument or "", 40), topics=", ".join(self._topic_words(tr))
            )
            return Reply(tr.lang, (Block("text", text),), self._topic_keyboard(tr))
        return self._briefing(tr, briefing_id)

    def sources(self, who: Who) -> Reply:
        tr = self.translator_for(who)
        return Reply(tr.lang, tuple(compose_sources(self._library(), tr)))

    def set_lang(self, who: Who, argument: str | None) -> Reply:
        choice = lang_of(argument.split()[0]) if argument and argument.strip() else None
        if choice is None:
            tr = self.translator_for(who)
            text = tr.gettext("Choose a language with /lang fr (français) or /lang en (English).")
            if argument and argument.strip():
                text = (
                    tr.gettext("I don't speak “{value}” yet. ").format(
                        value=_shorten(argument, 20)
                    )
                    + text
                )
            return Reply(tr.lang, (Block("text", text),))
        self._prefs.set_lang(who.user_id, choice)
        tr = self.translator_for(who)
        if self._subscribing is not None and who.chat == who.user_id:
            # A private digest follows its reader's language; a group's stays the group's.
            self._subscribing.follow_language(who.chat, tr)
        return Reply(
            tr.lang,
            (Block("text", tr.gettext("From now on I will write to you in English.")),),
            self._topic_keyboard(tr),
        )

    def unknown_command(self, who: Who, command: str) -> Reply:
        tr = self.translator_for(who)
        text = tr.gettext("I don't know the command /{command}. Send /help to see what I can do.")
        return Reply(tr.lang, (Block("text", text.format(command=_shorten(command, 32))),))

    def text(self, who: Who, text: str) -> Reply:
        """A plain message that is not a command: a question, when it is one we can take."""
        refusal = self.refuse_question(who, text)
        if refusal is not None:
            return refusal
        if self._index is None:
            tr = self.translator_for(who)
            hint = tr.gettext("Pick a topic below, or send /brief for the overview.")
            return Reply(tr.lang, (Block("text", hint),), self._topic_keyboard(tr))
        return self.ask(who, text).reply

    def refuse_question(self, who: Who, text: str) -> Reply | None:
        """A reply for text that cannot be a question (empty, too long), else None."""
        tr = self.translator_for(who)
        if not visible(text).strip():
            hint = tr.gettext("Ask me a question, for example: {example}").format(
                example=tr.gettext("How much has Microsoft invested in OpenAI?")
            )
            return Reply(tr.lang, (Block("text", hint),))
        if len(text) > MAX_TEXT_CHARS:
            message = tr.gettext(
                "Your message is {length} characters long; please keep it under {limit}."
            ).format(length=tr.number(len(text)), limit=tr.number(MAX_TEXT_CHARS))
            return Reply(tr.lang, (Block("text", message),))
        return None

    def unsupported(self, who: Who) -> Reply:
        """A sticker, photo, voice note… that the bot cannot read."""
        tr = self.translator_for(who)
        text = tr.gettext("I can only read text. Send /brief for the briefing or /help.")
        return Reply(tr.lang, (Block("text", text),))

    def action(self, who: Who, data: str | None) -> Reply:
        """A button press."""
        tr = self.translator_for(who)
        library = self._library()
        action = parse_action(data, library)
        if action is None:
            return self._stale(tr)
        if action.verb in ("subt", "subz", "set", "unsub"):
            return self._subscription_action(who, tr, action) or self._stale(tr)
        if action.verb == "ask":
            self.memory.prime(who.chat, action.argument)
            label = next(t.label.get(tr.lang) for t in library.topics if t.id == action.argument)
            text = tr.gettext("Ask me your question about {topic}.").format(topic=label)
            return Reply(tr.lang, (Block("text", text),))
        if action.verb == "brief":
            return self._briefing(tr, action.argument)
        # Admin broadcast buttons are handled by the Telegram adapter, never here.
        return self._stale(tr)

    def _stale(self, tr: Translator) -> Reply:
        text = tr.gettext("This button is no longer valid. Here are the topics again.")
        return Reply(tr.lang, (Block("text", text),), self._topic_keyboard(tr))

    # ---- daily digest ---------------------------------------------------------------------

    def subscribe(self, who: Who, argument: str | None) -> Reply:
        tr = self.translator_for(who)
        if self._subscribing is None:
            return self.unknown_command(who, "subscribe")
        return self._subscribing.subscribe(tr, who.chat, who.user_id, argument or "")

    def settings(self, who: Who) -> Reply:
        tr = self.translator_for(who)
        if self._subscribing is None:
            return self.unknown_command(who, "settings")
        return self._subscribing.settings(tr, who.chat)

    def unsubscribe(self, who: Who) -> Reply:
        tr = self.translator_for(who)
        if self._subscribing is None:
            return self.unknown_command(who, "unsubscribe")
        return self._subscribing.unsubscribe(tr, who.chat)

    def _subscription_action(self, who: Who, tr: Translator, action: Action) -> Reply | None:
        flow = self._subscribing
        if flow is None:
            return None
        if action.verb == "subt":
            return flow.pick_time(tr, action.argument)
        if action.verb == "subz":
            slot, index = action.argument.split(":")
            return flow.pick_zone(tr, who.chat, who.user_id, slot, index)
        if action.verb == "set":
            return flow.setting(tr, who.chat, action.argument)
        return flow.confirm_unsubscribe(tr, who.chat, action.argument)

    # ---- questions ------------------------------------------------------------------------

    def ask(self, who: Who, question: str, *, lang: Lang | None = None) -> Asked:
        """Answer a question from the fact store, or decline; remembers the turn."""
        if self._index is None:
            raise RuntimeError("this conversation was built without a fact index")
        index = self._index()
        library = index.library
        memory = self.memory.get(who.chat)
        switch = language_switch(question)
        if switch is not None and memory is not None and memory.question:
            question, lang = memory.question, switch
        asked_in = detect_lang(question)
        if lang is None:
            stored = self._prefs.get_lang(who.user_id)
            lang = stored or asked_in or self.translator_for(who).lang
        tr = self.translator_for_lang(who, lang)
        hint = memory.primed_topic if memory else None
        earlier = memory.question if memory is not None and _short(question) else None
        repeat = memory is not None and bool(memory.fact_ids)
        if (
            memory is not None
            and repeat
            and (switch is not None or index.asks_for_source(question))
        ):
            # "and in French?" / "who reported that?": the same facts, said again.
            result = index.result_for(memory.fact_ids)
        else:
            result = self._search(index, question, asked_in or lang, hint, earlier, memory)
            if not result.found and asked_in is None:
                other: Lang = "en" if lang == "fr" else "fr"
                retry = self._search(index, question, other, hint, earlier, memory)
                result = retry if retry.found else result
        answer = extractive_answer(library, result, tr, ask_of(index, question, lang))
        self._stats.add("answered" if answer.found else "declined")
        if answer.found:
            topic = library.facts[answer.fact_ids[0]].topic
            # A follow-up is remembered with what it leaned on, for the next follow-up.
            remembered = f"{earlier} {question}" if earlier and switch is None else question
            self.memory.put(who.chat, Turn(remembered, lang, topic, answer.fact_ids))
        buttons: tuple[tuple[Button, ...], ...] = ()
        if not answer.found:
            buttons = tuple(
                (Button(t.label.get(lang), Action("brief", t.id).encode()),)
                for t in library.topics
                if t.id in answer.suggestions
            )
        return Asked(Reply(lang, answer.blocks, buttons), answer, question, scope_of(result))

    def _search(
        self,
        index: FactIndex,
        question: str,
        lang: Lang,
        hint: str | None,
        earlier: str | None,
        memory: Turn | None,
    ) -> SearchResult:
        """A short question is read as a follow-up of the last one ("and until when?")."""
        confirm = self._confirmer.confirm
        if earlier is not None and memory is not None:
            result = index.search(question, lang, topic_hint=hint or memory.topic, context=earlier)
            result = confirm(index, question, lang, result, context=earlier)
            if result.found:
                return result
        return confirm(index, question, lang, index.search(question, lang, topic_hint=hint))

    def dispatch(self, who: Who, line: str) -> Reply:
        """Route a console line (``/brief ipo``, ``/lang fr``, or text) like Telegram would."""
        stripped = line.strip()
        if not stripped.startswith("/"):
            return self.text(who, line)
        command, _, argument = stripped[1:].partition(" ")
        command = command.split("@", 1)[0].lower()
        handlers: dict[str, Callable[[], Reply]] = {
            "start": lambda: self.start(who),
            "help": lambda: self.help(who),
            "topics": lambda: self.topics(who),
            "brief": lambda: self.brief(who, argument),
            "sources": lambda: self.sources(who),
            "lang": lambda: self.set_lang(who, argument),
            "subscribe": lambda: self.subscribe(who, argument),
            "settings": lambda: self.settings(who),
            "unsubscribe": lambda: self.unsubscribe(who),
            "ask": lambda: self.text(who, argument),
        }
        handler = handlers.get(command)
        return handler() if handler else self.unknown_command(who, command)

    # ---- helpers --------------------------------------------------------------------------

    def _briefing(self, tr: Translator, briefing_id: str) -> Reply:
        blocks = compose_briefing(self._library(), briefing_id, tr)
        keyboard = self._topic_keyboard(tr, exclude=briefing_id)
        if briefing_id != "overview" and self._index is not None:
            ask = Button(tr.gettext("Ask about this"), Action("ask", briefing_id).encode())
            keyboard = ((ask,), *keyboard)
        return Reply(tr.lang, tuple(blocks), keyboard)

    def _topic_words(self, tr: Translator) -> list[str]:
        return [f"{t.id} ({t.label.get(tr.lang)})" for t in self._library().topics]

    def _topic_keyboard(
        self, tr: Translator, exclude: str | None = None
    ) -> tuple[tuple[Button, ...], ...]:
        library = self._library()
        buttons = [
            Button(topic.label.get(tr.lang), Action("brief", topic.id).encode())
            for topic in library.topics
            if topic.id != exclude
        ]
        rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
        if exclude != "overview":
            rows.insert(0, (Button(tr.gettext("Overview"), Action("brief", "overview").encode()),))
        return tuple(rows)


def command_descriptions(tr: Translator) -> list[tuple[str, str]]:
    """Command menu entries, also sent to Telegram with set_my_commands."""
    return [
        (
            "brief",
            tr.gettext("the sourced briefing; add a topic: stakes, revenue, infrastructure, ipo"),
        ),
        ("ask", tr.gettext("ask a question; in private chats, just write it")),
        (
            "subscribe",
            tr.gettext("a daily digest at your time, e.g. /subscribe 07:30 Europe/Paris"),
        ),
        ("settings", tr.gettext("your daily digest: time, pause, days")),
        ("unsubscribe", tr.gettext("stop the daily digest")),
        ("topics", tr.gettext("the topics I cover")),
        ("sources", tr.gettext("the sources behind every fact")),
        ("lang", tr.gettext("switch language: /lang fr or /lang en")),
        ("help", tr.gettext("how to use this bot")),
        ("start", tr.gettext("welcome message and topic buttons")),
    ]


_SWITCH_WORDS: dict[Lang, frozenset[str]] = {
    "fr": frozenset({"french", "francais", "fr"}),
    "en": frozenset({"english", "anglais", "en"}),
}


_LANGUAGE_NAMES = frozenset({"french", "francais", "english", "anglais"})


def language_switch(message: str) -> Lang | None:
    """ "and in French?" / "en anglais ?" asks for the last answer again, in that language."""
    tokens = words(fold(message))
    if not tokens or len(tokens) > 5:
        return None
    if len(tokens) > 1 and not (set(tokens) & _LANGUAGE_NAMES):
        # "en" and "fr" alone switch ("en ?"); in a sentence, "en" is French for "in":
        # "et en dollars ?" asks for dollars, not for English.
        return None
    for lang, markers in _SWITCH_WORDS.items():
        if markers & set(tokens) and not (
            _SWITCH_WORDS["en" if lang == "fr" else "fr"] & set(tokens)
        ):
            return lang
    return None


def _short(question: str) -> bool:
    return len(words(fold(question))) <= 6


def _shorten(value: str, limit: int) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"
