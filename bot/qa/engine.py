"""The question engine: a question in, the extractive answer (or a decline) out, remembered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.compose.answer import Answer, extractive_answer
from bot.core.actions import Action
from bot.core.domain import Block, Button, Lang, Library, Reply, SearchResult, Who, told
from bot.core.tally import NoTally, Tally
from bot.core.text import fold, visible, words
from bot.i18n.languages import Languages
from bot.i18n.translator import Translator
from bot.qa.deciding import Confirmer, Scope, ask_of, reported_first, scope_of
from bot.qa.memory import ChatMemory, Turn
from bot.qa.retrieval.index import FactIndex
from bot.qa.retrieval.langdetect import detect_lang

MAX_TEXT_CHARS = 1000


@dataclass(frozen=True)
class Asked:
    """A question's outcome: the extractive reply, and what an LLM may rephrase."""

    reply: Reply
    answer: Answer
    question: str
    scope: Scope = "in"  # whether it is about our subject at all (qa/deciding.py)


@dataclass(frozen=True)
class _Reading:
    """How a question is read: in which language, leaning on which earlier turn."""

    question: str
    lang: Lang
    asked_in: Lang | None
    switch: Lang | None
    hint: str | None
    earlier: str | None
    memory: Turn | None


class QuestionEngine:
    """Answers questions from the fact index; keeps the chat memory follow-ups lean on."""

    def __init__(
        self,
        index: Callable[[], FactIndex],
        languages: Languages,
        *,
        memory: ChatMemory | None = None,
        stats: Tally | None = None,
        confirmer: Confirmer | None = None,
    ) -> None:
        self._index = index  # a getter: a content reload is seen at the next question
        self._confirmer = confirmer or Confirmer(None)
        self._languages = languages
        self.memory = memory or ChatMemory()
        self._stats = stats or NoTally()

    def refuse(self, who: Who, text: str) -> Reply | None:
        """A reply for text that cannot be a question (empty, too long), else None."""
        return refuse_question(self._languages.translator_for(who), text)

    def lookup(self, words: str, lang: Lang, limit: int = 10) -> tuple[str, ...]:
        """Facts matching ``words``, best first, by the index's ranking (inline mode): the
        facts a question would cite, and weaker matches after them; no memory, no decline."""
        result = self._index().search(words, lang, k=limit)
        return tuple(hit.fact_id for hit in result.hits[:limit])

    def prime(self, chat: int, topic: str) -> None:
        """The next question in this chat is about ``topic`` (an "Ask about this" button)."""
        self.memory.prime(chat, topic)

    def ask(self, who: Who, question: str, *, lang: Lang | None = None) -> Asked:
        """Answer a question from the fact store, or decline; remembers the turn."""
        index = self._index()
        library = index.library
        reading = self._read(who, question, lang)
        tr = self._languages.translator_for_lang(who, reading.lang)
        source = index.asks_for_source(reading.question)
        result = self._find(index, reading)
        if source:
            result = reported_first(library, result)
        # Read again for the direct line only when there is an answer to open: a refusal
        # needs none, and the reading costs as much as the search.
        direct = ask_of(index, reading.question, reading.lang, source) if result.found else None
        answer = extractive_answer(library, result, tr, direct)
        self._stats.add("answered" if answer.found else "declined")
        if answer.found:
            self._remember(who, reading, library.facts[answer.fact_ids[0]].topic, answer)
        buttons: tuple[tuple[Button, ...], ...] = ()
        if not answer.found:
            buttons = _suggestion_buttons(library, answer, reading.lang)
        shown = told(library.facts[f] for f in answer.fact_ids) if answer.found else ()
        reply = Reply(reading.lang, answer.blocks, buttons, facts=shown)
        return Asked(reply, answer, reading.question, scope_of(result))

    def _read(self, who: Who, question: str, lang: Lang | None) -> _Reading:
        """Which question (a language switch repeats the last), in which language, after what."""
        memory = self.memory.get(who.chat)
        switch = language_switch(question)
        if switch is not None and memory is not None and memory.question:
            question, lang = memory.question, switch
        asked_in = detect_lang(question)
        if lang is None:
            stored = self._languages.chosen(who.user_id)
            lang = stored or asked_in or self._languages.translator_for(who).lang
        hint = memory.primed_topic if memory else None
        earlier = memory.question if memory is not None and _short(question) else None
        return _Reading(question, lang, asked_in, switch, hint, earlier, memory)

    def _find(self, index: FactIndex, reading: _Reading) -> SearchResult:
        """The facts for the question: the last answer's again, or a search (in both languages
        when the question's own language is unclear)."""
        memory, question = reading.memory, reading.question
        repeat = memory is not None and bool(memory.fact_ids)
        if (
            memory is not None
            and repeat
            and (reading.switch is not None or index.asks_for_source(question))
        ):
            # "and in French?" / "who reported that?": the same facts, said again.
            return index.result_for(memory.fact_ids)
        confirmer = self._confirmer
        result = _search(index, reading, reading.asked_in or reading.lang, confirmer)
        if not result.found and reading.asked_in is None:
            other: Lang = "en" if reading.lang == "fr" else "fr"
            retry = _search(index, reading, other, confirmer)
            result = retry if retry.found else result
        return result

    def _remember(self, who: Who, reading: _Reading, topic: str, answer: Answer) -> None:
        # A follow-up is remembered with what it leaned on, for the next follow-up.
        earlier, question = reading.earlier, reading.question
        remembered = f"{earlier} {question}" if earlier and reading.switch is None else question
        self.memory.put(who.chat, Turn(remembered, reading.lang, topic, answer.fact_ids))

    def translator_for_lang(self, who: Who, lang: Lang) -> Translator:
        return self._languages.translator_for_lang(who, lang)


def refuse_question(tr: Translator, text: str) -> Reply | None:
    """A reply for text that cannot be a question (empty, too long), else None."""
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


def _search(index: FactIndex, reading: _Reading, lang: Lang, confirmer: Confirmer) -> SearchResult:
    """A short question is read as a follow-up of the last one ("and until when?"); the
    lexical result then goes through the semantic stage (qa/deciding.py)."""
    memory, hint, question = reading.memory, reading.hint, reading.question
    confirm = confirmer.confirm
    if reading.earlier is not None and memory is not None:
        result = index.search(
            question,
            lang,
            topic_hint=hint or memory.topic,
            context=reading.earlier,
            previous=memory.fact_ids,
        )
        result = confirm(index, question, lang, result, reading.earlier)
        if result.found:
            return result
    result = index.search(question, lang, topic_hint=hint)
    return confirm(index, question, lang, result, None)


def _suggestion_buttons(
    library: Library, answer: Answer, lang: Lang
) -> tuple[tuple[Button, ...], ...]:
    return tuple(
        (Button(t.label.get(lang), Action("brief", t.id).encode()),)
        for t in library.topics
        if t.id in answer.suggestions
    )


_SWITCH_WORDS: dict[Lang, frozenset[str]] = {
    "fr": frozenset({"french", "francais", "fr"}),
    "en": frozenset({"english", "anglais", "en"}),
}


_LANGUAGE_NAMES = frozenset({"french", "francais", "english", "anglais"})
# The words of a longer request to say it again in another language ("can you say that in
# english pls", "tu peux me le redire en français stp"), which asks nothing new.
_ASKING_AGAIN = frozenset(
    words(
        "can could would you say it that this again please pls plz in the answer write translate"
        " repeat same thing me tell and now ok thanks tu vous peux pouvez pourrais pourriez dire"
        " redire redis dis le la ca ce en stp svp merci traduire traduis ecrire ecris repondre"
        " reponds meme chose maintenant et"
    )
)


def language_switch(message: str) -> Lang | None:
    """ "and in French?" / "en anglais ?" asks for the last answer again, in that language.

    "en" and "fr" switch only alone ("en ?"): in a sentence, "en" is French for "in" ("et en
    dollars ?" asks for dollars, "en français stp" for French).
    """
    tokens = words(fold(message))
    if not tokens or (len(tokens) > 5 and not set(tokens) <= _ASKING_AGAIN | _LANGUAGE_NAMES):
        return None
    named = set(tokens) if len(tokens) == 1 else set(tokens) & _LANGUAGE_NAMES
    langs = {lang for lang, markers in _SWITCH_WORDS.items() if markers & named}
    return langs.pop() if len(langs) == 1 else None


def _short(question: str) -> bool:
    return len(words(fold(question))) <= 6
