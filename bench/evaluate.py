"""Scores an evaluation set through the real answering code, per language and per kind.

    python -m bench.evaluate tests/eval/blind_dev.yaml [--misses]
    python -m bench.evaluate tests/eval/blind_holdout.yaml      # once, at the end; no --misses

The blind sets were written by someone who saw only the seed article and content/ (never the
ranking code or the lexicon). ``blind_dev.yaml`` is for tuning, and its misses may be read;
``blind_holdout.yaml`` is scored once and reported as it comes out. Never pass --misses for it:
reading its misses is how a holdout stops being one.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bot.content.loader import load_library
from bot.i18n.translator import translator
from bot.qa.deciding import Confirmer
from tests.conftest import CONTENT
from tests.eval.test_eval import Outcome, miss_line, outcomes_for

_DIGIT = re.compile(r"\d")


def load(path: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    return cases


def report(outcomes: list[Outcome], *, misses: bool) -> str:
    lines = []

    def share(chosen: list[Outcome]) -> str:
        right = sum(o.correct for o in chosen)
        return f"{right}/{len(chosen)} = {right / len(chosen):.1%}" if chosen else "-"

    in_scope = [o for o in outcomes if o.case["expect"] != "decline"]
    declines = [o for o in outcomes if o.case["expect"] == "decline"]
    lines.append(f"all            {share(outcomes)}")
    for lang in ("en", "fr"):
        mine = [o for o in in_scope if o.case["expect_lang"] == lang]
        lines.append(f"in scope, {lang}   {share(mine)}")
    lines.append(f"decline cases  {share(declines)}")
    fabricated = sum(o.fabricated for o in outcomes)
    # A refusal says how recent its sources are ("as of December 1, 2026"); any other digit
    # in it would be a figure it should not state.
    newest = load_library(CONTENT).newest_date()
    dates = [translator(lang).date(newest) for lang in ("en", "fr")] if newest else []

    def states_a_number(text: str) -> bool:
        for date in dates:
            text = text.replace(date, "")
        return bool(_DIGIT.search(text))

    numbers = sum(
        1
        for o in declines
        if o.case["kind"] == "out-of-scope" and not o.fabricated and states_a_number(o.text)
    )
    lines.append(f"fabricated     {fabricated}")
    lines.append(f"refusals stating a number {numbers}")
    kinds: Counter[str] = Counter(o.case["kind"] for o in outcomes)
    for kind in sorted(kinds):
        lines.append(f"  {kind:14} {share([o for o in outcomes if o.case['kind'] == kind])}")
    declined = sum(not o.correct and not o.found for o in in_scope)
    wrong = sum(not o.correct and o.found for o in in_scope)
    lines.append(f"in-scope misses: {declined} declined, {wrong} wrong fact or language")
    if misses:
        lines += [miss_line(o) for o in outcomes if not o.correct]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.evaluate", description=__doc__)
    parser.add_argument("cases", type=Path)
    parser.add_argument("--misses", action="store_true", help="list misses (never on holdout)")
    parser.add_argument(
        "--no-semantic", action="store_true", help="without the semantic stage (lexical only)"
    )
    args = parser.parse_args()
    if args.misses and "holdout" in args.cases.name:
        parser.error("the holdout's misses are not to be read")
    confirmer = None
    if args.no_semantic:
        confirmer = Confirmer(None)
    outcomes = outcomes_for(load(args.cases), confirmer=confirmer)
    print(report(outcomes, misses=args.misses))


if __name__ == "__main__":
    main()
