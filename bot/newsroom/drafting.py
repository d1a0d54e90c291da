"""An LLM's draft of a fact from one candidate's text, refused unless every number is the item's.

The model is given the item only (title and text) and asked for JSON: topic, status, the
English and French texts with ``{placeholders}`` for numbers, and the figures. Its figures are
formatted as readers would see them and each number checked against the item by the grounding
guard's comparison (injected: bot/qa/grounding.py ``unsupported_numbers``), so "$12 billion"
drawn from an item that says "$10 billion" is refused, and the editor is told which number.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.compose.briefing import fact_text
from bot.core.candidates import Candidate
from bot.core.domain import FACT_TOPICS, FIGURE_KINDS, STATUSES, Bilingual, Fact, Figure, Status
from bot.i18n.translator import translator

log = logging.getLogger(__name__)
RefusalKind = Literal["unavailable", "invalid", "digits", "invented"]
# (text, item) -> the numbers of text the item does not state
NumberCheck = Callable[[str, str], list[str]]
_DIGIT = re.compile(r"\d")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
_ITEM_LIMIT = 4000

SYSTEM = (
    "You turn one news item into one fact for a bilingual (French and English) briefing on the "
    "OpenAI-Microsoft partnership. Use only what the item says; never add a number it does not "
    "state. Answer with one JSON object and nothing else:\n"
    '{"topic": one of '
    + ", ".join(FACT_TOPICS)
    + ', "status": one of '
    + ", ".join(STATUSES)
    + ', "text_en": "...", "text_fr": "...", "source_language": "en" or "fr", '
    '"figures": {"name": {"kind": "money", "amount": 10000000000, "currency": "USD", '
    '"as_of": "YYYY-MM-DD"}}}\n'
    "Texts: one or two sentences each, attributed as the item attributes the claim, with no "
    "digits: write every number as a {name} placeholder that figures defines. Figure kinds: "
    "money (amount, currency ISO 4217), percent (value as a fraction: 0.27), year, date "
    "(value YYYY-MM-DD), month (value YYYY-MM), count. as_of is optional."
)


class Completer(Protocol):
    """One chat completion: bot/qa/llm_client.py's ChatClient.complete."""

    async def complete(self, messages: list[dict[str, str]]) -> str: ...


@dataclass(frozen=True)
class Proposal:
    topic: str
    status: str
    text: Bilingual
    figures: tuple[Figure, ...]
    source_lang: str


class DraftRefused(Exception):
    """The model's draft cannot be shown: ``kind`` says why, ``detail`` what (a number)."""

    def __init__(self, kind: RefusalKind, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: RefusalKind = kind
        self.detail = detail


def item_text(candidate: Candidate) -> str:
    """What a draft may draw on: the title and the item's text."""
    return f"{candidate.title}\n{candidate.text}"[:_ITEM_LIMIT]


class LLMDrafter:
    def __init__(self, completer: Completer, unsupported: NumberCheck) -> None:
        self._completer = completer
        self._unsupported = unsupported

    async def draft(self, candidate: Candidate) -> Proposal:
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"<item>\n{item_text(candidate)}\n</item>"},
        ]
        try:
            answer = await self._completer.complete(messages)
        except Exception as exc:  # any failure of the model: the editor writes it instead
            log.warning("the model gave no draft: %s", type(exc).__name__)
            raise DraftRefused("unavailable", type(exc).__name__) from exc
        proposal = parse_proposal(answer)
        check_numbers(proposal, item_text(candidate), self._unsupported)
        return proposal


def parse_proposal(answer: str) -> Proposal:
    """The model's JSON as a Proposal; anything else is refused as invalid."""
    try:
        data = json.loads(_FENCE.sub("", answer.strip()))
    except ValueError as exc:
        raise DraftRefused("invalid", "not JSON") from exc
    if not isinstance(data, dict):
        raise DraftRefused("invalid", "not an object")
    topic, status = data.get("topic"), data.get("status")
    text_en, text_fr = data.get("text_en"), data.get("text_fr")
    if topic not in FACT_TOPICS or status not in STATUSES:
        raise DraftRefused("invalid", "topic or status")
    if not (isinstance(text_en, str) and text_en.strip()):
        raise DraftRefused("invalid", "text_en")
    if not (isinstance(text_fr, str) and text_fr.strip()):
        raise DraftRefused("invalid", "text_fr")
    raw = data.get("figures") or {}
    if not isinstance(raw, dict):
        raise DraftRefused("invalid", "figures")
    figures = tuple(_figure(str(name), spec) for name, spec in raw.items())
    lang = "fr" if data.get("source_language") == "fr" else "en"
    text = Bilingual(text_fr.strip(), text_en.strip())
    return Proposal(str(topic), str(status), text, figures, lang)


def _figure(name: str, spec: Any) -> Figure:
    if not isinstance(spec, dict) or spec.get("kind") not in FIGURE_KINDS:
        raise DraftRefused("invalid", f"figure {name}")
    kind = str(spec["kind"])
    try:
        as_of = dt.date.fromisoformat(spec["as_of"]) if spec.get("as_of") else None
        if kind == "money":
            amount = spec["amount"]
            if not isinstance(amount, int | float) or isinstance(amount, bool):
                raise TypeError(amount)
            return Figure(name, kind, amount, str(spec.get("currency") or "USD"), as_of)
        value = spec["value"]
        if kind == "date":
            value = dt.date.fromisoformat(str(value)).isoformat()
        elif kind == "month":
            value = str(value)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            raise TypeError(value)
        return Figure(name, kind, value, None, as_of)
    except (KeyError, TypeError, ValueError) as exc:
        raise DraftRefused("invalid", f"figure {name}") from exc


def check_numbers(proposal: Proposal, item: str, unsupported: NumberCheck) -> None:
    """Refuse a proposal that writes digits outside its figures, or whose figures, as a reader
    would see them in either language, state a number the item does not."""
    for text in (proposal.text.en, proposal.text.fr):
        if _DIGIT.search(text):
            raise DraftRefused("digits", _DIGIT.findall(text)[0])
    fact = Fact(
        id="draft",
        topic=proposal.topic,
        status=Status(proposal.status),
        source_id="draft",
        text=proposal.text,
        first_seen=dt.date(2000, 1, 1),
        updated=dt.date(2000, 1, 1),
        figures=proposal.figures,
    )
    for lang in ("en", "fr"):
        tr = translator(lang)
        try:
            rendered = fact_text(fact, tr)
        except (KeyError, ValueError, IndexError) as exc:
            raise DraftRefused("invalid", "placeholders") from exc
        # as_of dates are not shown in the text but are figures too: the item must state them
        as_of = " ".join(tr.date(f.as_of) for f in proposal.figures if f.as_of)
        missing = unsupported(f"{rendered} {as_of}", item)
        if missing:
            raise DraftRefused("invented", missing[0])
