"""Calibrate retrieval thresholds on the dev split of tests/eval; report the holdout split.

    python -m bench.calibrate

Searches a small grid, keeps only settings with zero fabricated answers on dev, picks the most
accurate (ties: the stricter coverage), then prints dev and holdout accuracy for it. Holdout
never takes part in the choice, so its figure estimates accuracy on unseen questions.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from bot.content.lexicon import load_lexicon
from bot.content.loader import load_library
from bot.qa.retrieval.index import FactIndex, Thresholds
from tests.conftest import CONTENT
from tests.eval.test_eval import load_cases, run_cases


def main() -> None:
    library = load_library(CONTENT)
    lexicon = load_lexicon(CONTENT)
    cases = load_cases()
    dev = [c for c in cases if c["split"] == "dev"]
    holdout = [c for c in cases if c["split"] == "holdout"]
    grid = itertools.product(
        (0.6, 0.9, 1.2, 1.5),  # min_score
        (0.3, 0.35, 0.4, 0.45, 0.5, 0.55),  # min_coverage
        (0.25, 0.5),  # recency
        (0.5, 0.75),  # bm25_b
        (0.5, 0.75, 1.0),  # unknown_weight
    )
    best: tuple[float, float, Thresholds] | None = None
    for min_score, min_coverage, recency, b, unknown_weight in grid:
        tuning = replace(
            Thresholds(),
            min_score=min_score,
            min_coverage=min_coverage,
            recency=recency,
            bm25_b=b,
            unknown_weight=unknown_weight,
        )
        index = FactIndex(library, lexicon, tuning)
        outcomes = run_cases(dev, library, index)
        if any(o.fabricated for o in outcomes):
            continue
        accuracy = sum(o.correct for o in outcomes) / len(outcomes)
        key = (accuracy, min_coverage)
        if best is None or key > best[:2]:
            best = (accuracy, min_coverage, tuning)
    if best is None:
        print("no setting avoids fabricated answers on dev")
        return
    tuning = best[2]
    index = FactIndex(library, lexicon, tuning)
    for name, chosen in (("dev", dev), ("holdout", holdout)):
        outcomes = run_cases(chosen, library, index)
        right = sum(o.correct for o in outcomes)
        fabricated = sum(o.fabricated for o in outcomes)
        print(
            f"{name:8} {right}/{len(chosen)} = {right / len(chosen):.1%}, fabricated {fabricated}"
        )
    print(f"chosen: {tuning}")


if __name__ == "__main__":
    main()
