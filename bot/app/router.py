"""The router: answers every command and button with a Reply, for Telegram and the console.

Questions go to the question engine (bot/qa/engine.py); the command table
(bot/app/commands.py) says which command goes where.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.app.commands import COMMANDS_BY_NAME, menu
from bot.app.replies import ReplyCache
from bot.compose.briefing import (
    compose_briefing,
    compose_fact_card,
    compose_sources,
    fact_text,
    status_name,
)
from bot.compose.chart import compose_chart_reply, has_chart
from bot.compose.correction import compose_latest
from bot.core.actions import SUBSCRIPTION_VERBS, Action, parse_action
from bot.core.deeplinks import DeepLink, linkable_fact, parse_deeplink, start_url
from bot.core.domain import Block, Button, InlineCard, Library, Reply, Who, told
from bot.digests.subscribing import Subscribing
from bot.i18n.languages import Languages
from bot.i18n.translator import Translator, lang_of
from bot.qa.engine import QuestionEngine, refuse_question


class Router:
    """Answers commands with Replies; adapters only parse, render and send."""

    def __init__(
        self,
        library: Callable[[], Library],
        languages: Languages,
        *,
        engine: QuestionEngine | None = None,
        subscribing: Subscribing | None = None,
        latest: Callable[[], list[str]] | None = None,
    ) -> None:
        self._library = library  # a getter: a content reload is seen at the next command
        self._latest = latest  # the last approved facts' ids, newest first
        self._languages = languages
        self._engine = engine
        self._subscribing = subscribing
        self.replies = ReplyCache(library)
        # Known once the adapter has asked Telegram (getMe); the console has none.
        self.bot_username: str | None = None

    def translator_for(self, who: Who) -> Translator:
        return self._languages.translator_for(who)

    # ---- commands -------------------------------------------------------------------------

    def start(self, who: Who, payload: str | None = None) -> Reply:
        """/start, or a deep link (``/start brief_ipo``); a payload we do not know welcomes."""
        tr = self.translator_for(who)
        if self._subscribing is not None:
            self._subscribing.reactivate(who.chat)
        link = parse_deeplink(payload.strip() if payload else None, self._library())
        if link is not None and link.kind == "brief":
            return self._briefing(tr, link.target)
        if link is not None and link.kind == "fact":
            return self.fact(who, link.target)
        # In a group only its administrators may subscribe it, which /subscribe checks.
        if link is not None and self._subscribing is not None and who.chat == who.user_id:
            return self._subscribing.subscribe(tr, who.chat, who.user_id, "")
        return self.replies.get(("start", tr.lang, tr.locale), lambda: self._welcome(tr))

    def _welcome(self, tr: Translator) -> Reply:
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
        return self.replies.get(("help", tr.lang, tr.locale), lambda: self._help(tr))

    def _help(self, tr: Translator) -> Reply:
        blocks = [Block("title", tr.gettext("What I can do"))]
        for command, description in menu(tr):
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
        return self.replies.get(("topics", tr.lang, tr.locale), lambda: self._topics(tr))

    def _topics(self, tr: Translator) -> Reply:
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

    def fact(self, who: Who, fact_id: str) -> Reply:
        """One fact card (a deep link or an inline result opens it), with the topic buttons."""
        tr = self.translator_for(who)
        return self.replies.get(
            ("fact", fact_id, tr.lang, tr.locale), lambda: self._fact(tr, fact_id)
        )

    def _fact(self, tr: Translator, fact_id: str) -> Reply:
        library = self._library()
        fact = library.facts[fact_id]
        keyboard = self._topic_keyboard(tr)
        if fact.topic in library.briefings and self._engine is not None:
            ask = Button(tr.gettext("Ask about this"), Action("ask", fact.topic).encode())
            keyboard = ((ask,), *keyboard)
        blocks = tuple(compose_fact_card(library, fact_id, tr))
        return Reply(tr.lang, blocks, keyboard, facts=told((fact,)))

    def chart(self, who: Who, argument: str | None) -> Reply:
        """/chart <topic>: the topic's figure series as a picture, or why there is none."""
        tr = self.translator_for(who)
        library = self._library()
        topic = (
            library.topic_for_alias(argument.split()[0]) if argument and argument.strip() else None
        )
        if topic is None or topic == "overview":
            text = tr.gettext("Which topic should I chart? Try one of: {topics}.").format(
                topics=", ".join(self._topic_words(tr))
            )
            return Reply(tr.lang, (Block("text", text),))
        return compose_chart_reply(library, topic, tr)

    def share(self, who: Who, argument: str | None) -> Reply:
        """A link that opens a briefing (the overview without an argument)."""
        tr = self.translator_for(who)
        library = self._library()
        word = argument.split()[0] if argument and argument.strip() else "overview"
        briefing_id = library.topic_for_alias(word)
        if briefing_id is None:
            return self.brief(who, argument)
        link = DeepLink("brief", briefing_id)
        where = (
            start_url(self.bot_username, link) if self.bot_username else f"/start {link.encode()}"
        )
        headline = library.briefings[briefing_id].headline.get(tr.lang)
        text = tr.gettext("Share this link to open the briefing “{headline}”:").format(
            headline=headline
        )
        return Reply(tr.lang, (Block("text", text), Block("text", where)))

    def inline(self, who: Who, words: str, limit: int = 10) -> tuple[InlineCard, ...]:
        """Fact cards for ``@bot <words>``: the index's best matches; with no words, the
        overview's headline facts. Words that match nothing give no cards."""
        tr = self.translator_for(who)
        library = self._library()
        if not words.strip():
            overview = library.briefings.get("overview")
            fact_ids = overview.fact_ids[:limit] if overview is not None else ()
        elif self._engine is None:
            fact_ids = ()
        else:
            fact_ids = self._engine.lookup(words[:256], tr.lang, limit)
        cards = []
        for fact_id in dict.fromkeys(fact_ids):
            fact = library.facts[fact_id]
            source = library.sources[fact.source_id]
            published = tr.date(source.published) if source.published else ""
            description = " · ".join(
                part
                for part in (status_name(fact.status, tr), source.publisher, published)
                if part
            )
            card = self.fact(who, fact_id)
            cards.append(
                InlineCard(
                    fact_id=fact_id,
                    title=_shorten(fact_text(fact, tr), 80),
                    description=description,
                    reply=Reply(card.lang, card.blocks),
                    open_label=tr.gettext("Open in partnerbrief"),
                    start_payload=(
                        DeepLink("fact", fact_id).encode() if linkable_fact(fact_id) else None
                    ),
                )
            )
        return tuple(cards)

    def latest(self, who: Who) -> Reply:
        """/latest: the last facts the newsroom approved."""
        tr = self.translator_for(who)
        ids = self._latest() if self._latest is not None else []
        return compose_latest(self._library(), ids, tr)

    def sources(self, who: Who) -> Reply:
        tr = self.translator_for(who)
        return self.replies.get(
            ("sources", tr.lang, tr.locale),
            lambda: Reply(tr.lang, tuple(compose_sources(self._library(), tr))),
        )

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
        self._languages.choose(who.user_id, choice)
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
        refusal = refuse_question(self.translator_for(who), text)
        if refusal is not None:
            return refusal
        if self._engine is None:
            tr = self.translator_for(who)
            hint = tr.gettext("Pick a topic below, or send /brief for the overview.")
            return Reply(tr.lang, (Block("text", hint),), self._topic_keyboard(tr))
        return self._engine.ask(who, text).reply

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
            return self.stale(who)
        if action.verb in SUBSCRIPTION_VERBS:
            return self._subscription_action(who, tr, action) or self.stale(who)
        if action.verb == "ask":
            if self._engine is not None:
                self._engine.prime(who.chat, action.argument)
            label = next(t.label.get(tr.lang) for t in library.topics if t.id == action.argument)
            text = tr.gettext("Ask me your question about {topic}.").format(topic=label)
            return Reply(tr.lang, (Block("text", text),))
        if action.verb == "brief":
            return self._briefing(tr, action.argument)
        if action.verb == "chart":
            return compose_chart_reply(library, action.argument, tr)
        # Admin broadcast buttons are handled by the Telegram adapter, never here.
        return self.stale(who)

    def stale(self, who: Who) -> Reply:
        """A button that is forged, expired or not this sender's to press."""
        tr = self.translator_for(who)
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
        if action.verb == "subtop":
            return flow.toggle_topic(tr, who.chat, action.argument)
        return flow.confirm_unsubscribe(tr, who.chat, action.argument)

    def dispatch(self, who: Who, line: str) -> Reply:
        """Route a console line (``/brief ipo``, ``/lang fr``, or text) like Telegram would."""
        stripped = line.strip()
        if not stripped.startswith("/"):
            return self.text(who, line)
        name, _, argument = stripped[1:].partition(" ")
        name = name.split("@", 1)[0].lower()
        command = COMMANDS_BY_NAME.get(name)
        if command is None or command.route is None:
            return self.unknown_command(who, name)
        return command.route(self, who, argument)

    # ---- helpers --------------------------------------------------------------------------

    def _briefing(self, tr: Translator, briefing_id: str) -> Reply:
        return self.replies.get(
            ("brief", briefing_id, tr.lang, tr.locale),
            lambda: self._compose_briefing(tr, briefing_id),
        )

    def _compose_briefing(self, tr: Translator, briefing_id: str) -> Reply:
        blocks = compose_briefing(self._library(), briefing_id, tr)
        keyboard = self._topic_keyboard(tr, exclude=briefing_id)
        if briefing_id != "overview" and has_chart(self._library(), briefing_id):
            chart = Button(tr.gettext("Chart"), Action("chart", briefing_id).encode())
            keyboard = ((chart,), *keyboard)
        if briefing_id != "overview" and self._engine is not None:  # the first row: Ask
            ask = Button(tr.gettext("Ask about this"), Action("ask", briefing_id).encode())
            keyboard = ((ask,), *keyboard)
        library = self._library()
        shown = told(library.facts[f] for f in library.briefings[briefing_id].fact_ids)
        return Reply(tr.lang, tuple(blocks), keyboard, facts=shown)

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


def _shorten(value: str, limit: int) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"
