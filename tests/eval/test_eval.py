"""The evaluation set (questions.yaml) through the real retrieval and answering code.

Prints accuracy per split and kind. Fails under 90 % correct-and-cited, or on any fabricated
answer: a cited answer to a question the store cannot answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app.services import build_conversation
from bot.compose.render_text import render_plain
from bot.content.lexicon import load_lexicon
from bot.content.loader import load_library
from bot.core.domain import Lang, Library, Who
from bot.qa.deciding import Confirmer
from bot.qa.engine import QuestionEngine
from bot.qa.retrieval.index import FactIndex
from tests.conftest import CONTENT

QUESTIONS = Path(__file__).with_name("questions.yaml")
MIN_ACCURACY = 0.90


class _NoPrefs:
    def get_lang(self, user_id: int) -> Lang | None:
        return None

    def set_lang(self, user_id: int, lang: Lang) -> None:
        raise AssertionError("the evaluation never stores a language")


@dataclass(frozen=True)
class Outcome:
    case: dict[str, Any]
    correct: bool
    fabricated: bool
    got: str
    found: bool = False
    text: str = ""  # the reply as the reader sees it


def _run(case: dict[str, Any], conversation: QuestionEngine, user: int) -> Outcome:
    who = Who(user, case.get("language_code"))
    asked = None
    for turn in case["turns"]:
        asked = conversation.ask(who, turn)
    assert asked is not None
    answer = asked.answer
    first = answer.fact_ids[0] if answer.fact_ids else None
    got = f"{first or 'declined'} ({answer.lang})"
    seen = {"found": answer.found, "text": render_plain(asked.reply)}
    if case["expect"] == "decline":
        correct = not answer.found and not answer.citations and answer.lang == case["expect_lang"]
        return Outcome(case, correct, fabricated=answer.found, got=got, **seen)
    correct = (
        answer.found
        and bool(answer.citations)
        and first in case["expect"]
        and answer.lang == case["expect_lang"]
    )
    return Outcome(case, correct, fabricated=False, got=got, **seen)


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))["cases"]
    return cases


def run_cases(
    cases: list[dict[str, Any]],
    library: Library,
    index: FactIndex,
    confirmer: Confirmer | None = None,
) -> list[Outcome]:
    """Each case in a fresh conversation, so that memory never leaks between cases; the
    semantic second opinion as the bot has it unless ``confirmer`` says otherwise."""
    outcomes = []
    for user, case in enumerate(cases, 1):
        engine = build_conversation(
            lambda: library, _NoPrefs(), "en", index=lambda: index, confirmer=confirmer
        ).engine
        assert engine is not None
        outcomes.append(_run(case, engine, user))
    return outcomes


def outcomes_for(
    cases: list[dict[str, Any]], *, semantic: bool = True, confirmer: Confirmer | None = None
) -> list[Outcome]:
    """``cases`` through the shipped content and lexicon (``semantic=False``: without the
    semantic stage, to measure what it adds; ``confirmer``: another semantic stage)."""
    library = load_library(CONTENT)
    index = FactIndex(library, load_lexicon(CONTENT))
    if not semantic:
        confirmer = Confirmer(None)
    return run_cases(cases, library, index, confirmer)


def _outcomes() -> list[Outcome]:
    return outcomes_for(load_cases())


def _report(outcomes: list[Outcome]) -> str:
    lines = []
    for split in ("dev", "holdout", None):
        chosen = [o for o in outcomes if split is None or o.case["split"] == split]
        right = sum(o.correct for o in chosen)
        lines.append(f"{split or 'all':8} {right}/{len(chosen)} = {right / len(chosen):.1%}")
    by_kind: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for outcome in outcomes:
        totals[outcome.case["kind"]] += 1
        by_kind[outcome.case["kind"]] += outcome.correct
    lines += [f"  {kind:14} {by_kind[kind]}/{totals[kind]}" for kind in sorted(totals)]
    lines += [miss_line(o) for o in outcomes if not o.correct]
    return "\n".join(lines)


def miss_line(o: Outcome) -> str:
    return (
        f"  MISS {o.case['id']} [{o.case['kind']}]: {o.case['turns'][-1]!r} -> {o.got}, "
        f"expected {o.case['expect']} ({o.case.get('expect_lang', '-')})"
    )


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return _outcomes()


def test_the_set_is_big_and_varied_enough(outcomes: list[Outcome]) -> None:
    cases = [o.case for o in outcomes]
    assert len(cases) >= 40
    assert sum(c["expect"] == "decline" for c in cases) >= 12
    assert {c["expect_lang"] for c in cases if c["expect"] != "decline"} == {"fr", "en"}


def test_accuracy_and_no_fabrication(
    outcomes: list[Outcome], capsys: pytest.CaptureFixture[str]
) -> None:
    report = _report(outcomes)
    with capsys.disabled():
        print("\nevaluation:\n" + report)
    fabricated = [o.case["id"] for o in outcomes if o.fabricated]
    assert fabricated == [], f"fabricated answers to out-of-scope questions: {fabricated}"
    accuracy = sum(o.correct for o in outcomes) / len(outcomes)
    assert accuracy >= MIN_ACCURACY, report
