"""Review, for BOT_ADMIN_IDS: the queue, a draft (the model's or the editor's), the preview,
the older fact it updates, and the approval that makes it a fact readers get.

Every step returns a Reply in the editor's language; the draft in progress is kept in the
store (bot/store/editorial.py), so the conversation goes on after a restart. Buttons are
``v1:nr:<step>:<argument>`` (bot/core/actions.py).
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.compose.briefing import fact_text, status_name
from bot.content.export import check_approved
from bot.core.actions import newsroom_action
from bot.core.candidates import Candidate, CandidateState
from bot.core.clock import Clock
from bot.core.domain import (
    FACT_TOPICS,
    STATUSES,
    Bilingual,
    Block,
    Button,
    Fact,
    Lang,
    Library,
    Reply,
    Source,
    Status,
    Who,
)
from bot.core.editorial import OLD_STATUSES, Approved, Draft, fact_id_for
from bot.i18n.translator import Translator, translator
from bot.newsroom.drafting import DraftRefused, LLMDrafter
from bot.newsroom.figures import FigureUnreadable, parse_figure
from bot.store.candidates import CandidateStore
from bot.store.editorial import CorrectionRun, EditorialStore

TEXT_STEPS = ("text_en", "text_fr", "figure")
MAX_TEXT = 600
MAX_MATCHES = 5
_DIGIT = re.compile(r"\d")
_PLACEHOLDER = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
# Finds the older facts a draft most likely updates (the question index's ranking).
Matches = Callable[[str, Lang], Sequence[str]]
# Takes an approval in (the served Library, corrections owed); the run to start, if any.
Publish = Callable[[Approved], CorrectionRun | None]


@dataclass(frozen=True)
class ReviewResult:
    reply: Reply
    run: CorrectionRun | None = None  # corrections to fan out, after an approval


def _button(label: str, step: str, argument: str) -> Button:
    return Button(label, newsroom_action(step, argument))


def placeholders(text: str) -> list[str]:
    """The ``{names}`` of a text, in order, each once; ValueError for a stray brace."""
    names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    return list(dict.fromkeys(names))


class Review:
    def __init__(
        self,
        candidates: CandidateStore,
        editorial: EditorialStore,
        library: Callable[[], Library],
        clock: Clock,
        *,
        matches: Matches,
        publish: Publish,
        drafter: LLMDrafter | None = None,
    ) -> None:
        self._candidates = candidates
        self._editorial = editorial
        self._library = library
        self._clock = clock
        self._matches = matches
        self._publish = publish
        self._drafter = drafter

    def _set_state(
        self, candidate_id: str, state: CandidateState, fact_id: str | None = None
    ) -> None:
        # Through variables only: pybabel takes any call named mark() for a message.
        self._candidates.mark(candidate_id, state, fact_id)

    def awaiting_text(self, editor_id: int) -> bool:
        """Whether the editor's next message is a step of their draft (not a question)."""
        draft = self._editorial.draft(editor_id)
        return draft is not None and draft.step in TEXT_STEPS

    # ---- the queue -------------------------------------------------------------------------

    def queue(self, tr: Translator) -> Reply:
        """/queue: the next candidate, or that there is none."""
        candidate = self._candidates.next()
        if candidate is None:
            text = tr.gettext("Nothing to review: the queue is empty.")
            return Reply(tr.lang, (Block("text", text),))
        return self._card(tr, candidate)

    def _card(self, tr: Translator, c: Candidate, before: tuple[Block, ...] = ()) -> Reply:
        blocks = [*before, Block("title", c.title)]
        for link in c.links:
            when = tr.date(link.published.date()) if link.published else tr.gettext("undated")
            blocks.append(Block("text", f"{link.outlet} · {when}"))
        blocks += [Block("note", f"“{line}”") for line in c.matched[:5]]
        waiting = len(self._candidates.queue())
        blocks.append(
            Block(
                "note",
                tr.gettext("Items waiting: {n}.").format(n=tr.number(waiting)),
            )
        )
        buttons = (
            (
                _button(tr.gettext("Draft a fact"), "draft", c.id),
                _button(tr.gettext("Discard"), "discard", c.id),
            ),
            (
                _button(tr.gettext("Later"), "later", c.id),
                _button(tr.gettext("Links"), "links", c.id),
            ),
        )
        return Reply(tr.lang, tuple(blocks), buttons)

    def _next(self, tr: Translator, said: str) -> Reply:
        done = (Block("note", said),)
        candidate = self._candidates.next()
        if candidate is None:
            empty = tr.gettext("Nothing to review: the queue is empty.")
            return Reply(tr.lang, (*done, Block("text", empty)))
        return self._card(tr, candidate, done)

    # ---- buttons ---------------------------------------------------------------------------

    async def press(self, tr: Translator, who: Who, step: str, argument: str) -> ReviewResult:
        """A newsroom button; one that no longer applies says so."""
        if step in ("draft", "discard", "later", "links"):
            candidate = self._candidates.get(argument)
            if candidate is None or candidate.state in ("approved", "discarded"):
                return ReviewResult(self._stale(tr))
            return ReviewResult(await self._on_candidate(tr, who, step, candidate))
        draft = self._editorial.draft(who.user_id)
        if draft is None or (step in ("ok", "stop") and draft.candidate_id != argument):
            return ReviewResult(self._stale(tr))
        if step == "ok":
            return self._approve(tr, draft)
        if step == "stop":
            self._editorial.drop_draft(who.user_id)
            self._set_state(draft.candidate_id, "later")
            dropped = tr.gettext("Draft dropped; the item waits for later.")
            return ReviewResult(self._next(tr, dropped))
        return ReviewResult(self._on_draft(tr, draft, step, argument))

    async def _on_candidate(self, tr: Translator, who: Who, step: str, c: Candidate) -> Reply:
        if step == "links":
            blocks = [Block("title", tr.gettext("Links"))]
            blocks += [
                Block("source", link.outlet, number=n, url=link.url)
                for n, link in enumerate(c.links, 1)
            ]
            return Reply(tr.lang, tuple(blocks))
        if step in ("discard", "later"):
            self._drop_draft_of(who.user_id, c.id)
            state: CandidateState = "discarded" if step == "discard" else "later"
            self._set_state(c.id, state)
            if step == "discard":
                said = tr.gettext("Discarded.")
            else:
                said = tr.gettext("Put back for later.")
            return self._next(tr, said)
        return await self._start_draft(tr, who, c)

    def _drop_draft_of(self, editor_id: int, candidate_id: str) -> None:
        draft = self._editorial.draft(editor_id)
        if draft is not None and draft.candidate_id == candidate_id:
            self._editorial.drop_draft(editor_id)

    async def _start_draft(self, tr: Translator, who: Who, c: Candidate) -> Reply:
        earlier = self._editorial.draft(who.user_id)
        if earlier is not None and earlier.candidate_id != c.id:
            self._set_state(earlier.candidate_id, "later")  # one draft per editor
        self._set_state(c.id, "drafted")
        draft = Draft(who.user_id, who.chat, c.id, "topic")
        if self._drafter is None:
            self._editorial.put_draft(draft)
            intro = tr.gettext("Let's write the fact from this item, step by step.")
            return self._ask(tr, draft, (Block("note", intro),))
        try:
            proposal = await self._drafter.draft(c)
        except DraftRefused as refused:
            self._editorial.put_draft(draft)
            why = Block("note", self._refusal(tr, refused))
            return self._ask(tr, draft, (why,))
        drafted = replace(
            draft,
            step="preview",
            topic=proposal.topic,
            status=proposal.status,
            text_en=proposal.text.en,
            text_fr=proposal.text.fr,
            figures=proposal.figures,
            source_lang=proposal.source_lang,
            by_model=True,
        )
        self._editorial.put_draft(drafted)
        return self._preview(tr, drafted)

    def _refusal(self, tr: Translator, refused: DraftRefused) -> str:
        reasons = {
            "invented": tr.gettext(
                "The model's draft was refused: the number {detail} is not in the item."
            ),
            "digits": tr.gettext(
                "The model's draft was refused: it wrote digits in the text instead of figures."
            ),
            "invalid": tr.gettext("The model's draft was refused: it was not a valid draft."),
            "unavailable": tr.gettext("The model did not answer."),
        }
        then = tr.gettext("Write the fact yourself:")
        return reasons[refused.kind].format(detail=refused.detail) + " " + then

    def _on_draft(self, tr: Translator, draft: Draft, step: str, argument: str) -> Reply:
        if step == "topic" and draft.step == "topic" and argument in FACT_TOPICS:
            return self._advance(tr, replace(draft, topic=argument))
        if step == "status" and draft.step == "status" and argument in STATUSES:
            return self._advance(tr, replace(draft, status=argument))
        if step == "edit" and draft.step == "preview":
            target = {"en": "text_en", "fr": "text_fr", "fig": "figure"}.get(argument, argument)
            figures = () if argument == "fig" else draft.figures
            edited = replace(draft, step=target, revising=True, figures=figures)
            self._editorial.put_draft(edited)
            return self._ask(tr, edited)
        if step == "older" and draft.step == "preview":
            return self._offer_older(tr, draft)
        if step == "match" and draft.step == "older":
            if argument == "none":
                return self._advance(tr, replace(draft, updates=None, old_status=None))
            index = int(argument)
            if index >= len(draft.matches):
                return self._stale(tr)
            chosen = replace(draft, step="fate", updates=draft.matches[index])
            self._editorial.put_draft(chosen)
            return self._ask(tr, chosen)
        if step == "fate" and draft.step == "fate" and draft.updates:
            return self._advance(tr, replace(draft, old_status=argument))
        return self._stale(tr)

    def _offer_older(self, tr: Translator, draft: Draft) -> Reply:
        library = self._library()
        fact = self._fact(draft, "draft")
        found = self._matches(fact_text(fact, translator("en")), "en")
        candidates = tuple(f for f in found if f in library.facts)[:MAX_MATCHES]
        offered = replace(draft, step="older", matches=candidates)
        self._editorial.put_draft(offered)
        return self._ask(tr, offered)

    # ---- the guided conversation -----------------------------------------------------------

    def text(self, tr: Translator, who: Who, text: str) -> Reply | None:
        """The editor's message for their draft's current step; None when none awaits one."""
        draft = self._editorial.draft(who.user_id)
        if draft is None or draft.step not in TEXT_STEPS:
            return None
        text = " ".join(text.split())
        if draft.step == "figure":
            return self._take_figure(tr, draft, text)
        problem = self._text_problem(tr, draft, text)
        if problem is not None:
            return Reply(tr.lang, (Block("text", problem),))
        if draft.step == "text_fr":
            return self._advance(tr, replace(draft, text_fr=text))
        changed = replace(draft, text_en=text)
        if draft.text_fr is not None and set(placeholders(draft.text_fr)) != set(
            placeholders(text)
        ):
            # New placeholders: the French text is asked again, and only figures still used kept.
            kept = tuple(f for f in draft.figures if f.name in placeholders(text))
            changed = replace(changed, text_fr=None, figures=kept)
        return self._advance(tr, changed)

    def _text_problem(self, tr: Translator, draft: Draft, text: str) -> str | None:
        if not text or len(text) > MAX_TEXT:
            return tr.gettext("Write one or two sentences, at most {limit} characters.").format(
                limit=tr.number(MAX_TEXT)
            )
        if _DIGIT.search(text):
            return tr.gettext(
                "Write each number as a placeholder in braces, e.g. {example}, and give its "
                "value next."
            ).format(example="{amount}")
        try:
            names = placeholders(text)
        except ValueError:
            names = None
        if names is None or not all(_PLACEHOLDER.match(n) for n in names):
            return tr.gettext(
                "Placeholders are lower-case names in braces, e.g. {example}."
            ).format(example="{amount}")
        other = draft.text_en if draft.step == "text_fr" else None
        if other is not None and set(placeholders(other)) != set(names):
            return tr.gettext("Both texts must use the same placeholders: {names}.").format(
                names=", ".join("{" + n + "}" for n in placeholders(other)) or "—"
            )
        return None

    def _take_figure(self, tr: Translator, draft: Draft, text: str) -> Reply:
        name = self._missing_figure(draft)
        if name is None:
            return self._advance(tr, draft)
        try:
            figure = parse_figure(name, text)
        except FigureUnreadable:
            hint = tr.gettext("I could not read that figure.")
            return self._ask(tr, draft, (Block("text", hint),))
        return self._advance(tr, replace(draft, figures=(*draft.figures, figure)))

    def _missing_figure(self, draft: Draft) -> str | None:
        have = {f.name for f in draft.figures}
        names = placeholders(draft.text_en or "") + placeholders(draft.text_fr or "")
        return next((n for n in names if n not in have), None)

    def _advance(self, tr: Translator, draft: Draft) -> Reply:
        """Store the draft at the step that comes next, and ask for it."""
        step = self._next_step(draft)
        moved = replace(draft, step=step, revising=draft.revising and step != "preview")
        self._editorial.put_draft(moved)
        if step == "preview":
            return self._preview(tr, moved)
        return self._ask(tr, moved)

    def _next_step(self, draft: Draft) -> str:
        if draft.topic is None:
            return "topic"
        if draft.status is None:
            return "status"
        if draft.text_en is None:
            return "text_en"
        if draft.text_fr is None:
            return "text_fr"
        if self._missing_figure(draft) is not None:
            return "figure"
        return "preview"

    def _ask(self, tr: Translator, draft: Draft, before: tuple[Block, ...] = ()) -> Reply:
        """The question of the draft's current step, with its buttons."""
        rows: tuple[tuple[Button, ...], ...] = ()
        if draft.step == "topic":
            question = tr.gettext("Which topic is it?")
            labels = {t.id: t.label.get(tr.lang) for t in self._library().topics}
            buttons = [
                _button(labels.get(t, tr.gettext("Background")), "topic", t) for t in FACT_TOPICS
            ]
            rows = tuple(tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3))
        elif draft.step == "status":
            question = tr.gettext("What is its status?")
            buttons = [_button(status_name(Status(s), tr), "status", s) for s in STATUSES]
            rows = tuple(tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3))
        elif draft.step == "text_en":
            question = tr.gettext(
                "Send the English text. Write each number as a placeholder, e.g. “Microsoft "
                "invests {example} in OpenAI”; you give its value next."
            ).format(example="{amount}")
        elif draft.step == "text_fr":
            question = tr.gettext("Send the French text, with the same placeholders.")
        elif draft.step == "figure":
            name = self._missing_figure(draft) or ""
            question = tr.gettext(
                "The value of {name}: e.g. “money 10 billion USD”, “percent 27”, “year 2030”, "
                "“date 2026-01-05”, “month 2026-01” or “count 4”; a date at the end says as of "
                "when."
            ).format(name="{" + name + "}")
        elif draft.step == "older":
            return self._older_question(tr, draft, before)
        else:  # fate
            question = tr.gettext("What does the older fact become?")
            rows = (tuple(_button(status_name(s, tr), "fate", s.value) for s in OLD_STATUSES),)
        return Reply(tr.lang, (*before, Block("text", question)), rows)

    def _older_question(self, tr: Translator, draft: Draft, before: tuple[Block, ...]) -> Reply:
        library = self._library()
        blocks = [*before, Block("text", tr.gettext("Which older fact does it update?"))]
        rows = []
        for n, fact_id in enumerate(draft.matches):
            text = fact_text(library.facts[fact_id], tr)
            blocks.append(Block("note", f"{n + 1}. {_short(text, 160)}"))
            rows.append((_button(f"{n + 1}. {_short(text, 40)}", "match", str(n)),))
        rows.append((_button(tr.gettext("None of these"), "match", "none"),))
        return Reply(tr.lang, tuple(blocks), tuple(rows))

    # ---- preview and approval --------------------------------------------------------------

    def _fact(self, draft: Draft, fact_id: str, now: dt.datetime | None = None) -> Fact:
        day = (now or self._clock()).date()
        old = self._library().facts.get(draft.updates or "")
        return Fact(
            id=fact_id,
            topic=draft.topic or "context",
            status=Status(draft.status or "reported"),
            source_id="draft",
            text=Bilingual(draft.text_fr or "", draft.text_en or ""),
            first_seen=day,
            updated=day,
            figures=draft.figures,
            changed_at=now,
            previous_figures=old.figures if old is not None else (),
        )

    def _preview(self, tr: Translator, draft: Draft) -> Reply:
        library = self._library()
        fact = self._fact(draft, "draft")
        labels = {t.id: t.label.get(tr.lang) for t in library.topics}
        blocks = [
            Block("title", tr.gettext("Draft for review")),
            Block("text", "EN: " + fact_text(fact, translator("en"))),
            Block("text", "FR : " + fact_text(fact, translator("fr"))),
            Block(
                "note",
                tr.gettext("Topic: {topic} · Status: {status}").format(
                    topic=labels.get(fact.topic, tr.gettext("Background")),
                    status=status_name(fact.status, tr),
                ),
            ),
        ]
        blocks += [Block("note", f"{{{f.name}}} = {tr.figure(f)}") for f in fact.figures]
        old = library.facts.get(draft.updates or "")
        if old is not None and draft.old_status:
            blocks.append(
                Block(
                    "note",
                    tr.gettext("Updates: {fact} It becomes {status}.").format(
                        fact=_short(fact_text(old, tr), 160),
                        status=status_name(Status(draft.old_status), tr),
                    ),
                )
            )
        if draft.by_model:
            blocks.append(
                Block(
                    "note",
                    tr.gettext(
                        "Drafted by the model from the item's text only; every number was "
                        "checked against it."
                    ),
                )
            )
        rows = (
            (_button(tr.gettext("Approve"), "ok", draft.candidate_id),),
            (_button(tr.gettext("Updates an older fact…"), "older", "list"),),
            (
                _button(tr.gettext("Edit English"), "edit", "en"),
                _button(tr.gettext("Edit French"), "edit", "fr"),
            ),
            (
                _button(tr.gettext("Edit figures"), "edit", "fig"),
                _button(tr.gettext("Cancel"), "stop", draft.candidate_id),
            ),
        )
        return Reply(tr.lang, tuple(blocks), rows)

    def _approve(self, tr: Translator, draft: Draft) -> ReviewResult:
        if draft.step != "preview":
            return ReviewResult(self._stale(tr))
        candidate = self._candidates.get(draft.candidate_id)
        if candidate is None:
            return ReviewResult(self._stale(tr))
        library = self._library()
        approved = self.approval(draft, candidate, library, self._clock())
        errors = check_approved([approved], library)
        if errors:
            intro = tr.gettext("This fact does not pass the content checks:")
            blocks = [Block("text", intro), *(Block("note", e.message) for e in errors[:5])]
            return ReviewResult(Reply(tr.lang, tuple(blocks), self._preview(tr, draft).buttons))
        self._editorial.put_approved(approved)
        self._set_state(candidate.id, "approved", approved.fact.id)
        self._editorial.drop_draft(draft.editor_id)
        run = self._publish(approved)
        said = tr.gettext("Approved as {id}.").format(id=approved.fact.id)
        if run is not None:
            said += " " + tr.gettext("Readers owed a correction: {n}.").format(
                n=tr.number(len(run.targets))
            )
        return ReviewResult(self._next(tr, said), run)

    def approval(
        self, draft: Draft, candidate: Candidate, library: Library, now: dt.datetime
    ) -> Approved:
        """The approved fact a draft makes, with an id no fact has, and a source per link."""
        fact_id = fact_id_for(draft.topic or "context", candidate.id, set(library.facts))
        sources = tuple(
            Source(
                id=f"{fact_id}-src" + (f"-{n}" if n > 1 else ""),
                publisher=link.outlet or tr_host(link.url),
                title=candidate.title,
                url=link.url,
                published=link.published.date() if link.published else None,
                language=draft.source_lang,
            )
            for n, link in enumerate(candidate.links, 1)
        )
        fact = replace(
            self._fact(draft, fact_id, now),
            source_id=sources[0].id if sources else "",
            also=tuple(s.id for s in sources[1:]),
        )
        old_status = Status(draft.old_status) if draft.updates and draft.old_status else None
        return Approved(
            fact=fact,
            sources=sources,
            candidate_id=candidate.id,
            editor_id=draft.editor_id,
            approved_at=now,
            updates=draft.updates if old_status else None,
            old_status=old_status,
        )

    def _stale(self, tr: Translator) -> Reply:
        text = tr.gettext("This button is no longer valid. Send /queue to go on.")
        return Reply(tr.lang, (Block("text", text),))


def tr_host(url: str) -> str:
    """An outlet's name when the feed gave none: the link's host."""
    return url.split("//", 1)[-1].split("/", 1)[0]


def _short(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
