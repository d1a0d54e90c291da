"""How answers hold up under typing errors: the single-turn direct and paraphrase questions a
dev set answers right, and those it rightly refuses, each sent again with machine-made typos
(two letters swapped, one dropped, doubled, or hit on a neighbouring key, in about a third of
the words of four letters or more), three variants each, a fixed seed.

    python -m bench.typos tests/eval/questions.yaml tests/eval/blind_dev*.yaml [--misses]

The blind sets' own typo questions measure how readers misspell; this measures how far the
correction generalises beyond the misspellings the lexicon has seen. Dev sets only: the
variants of a holdout question would be read with its misses.
"""

from __future__ import annotations

import argparse
import copy
import random
from pathlib import Path
from typing import Any

from bench.evaluate import load
from tests.eval.test_eval import miss_line, outcomes_for

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    near: dict[str, str] = {}
    for r, row in enumerate(_ROWS):
        for i, key in enumerate(row):
            around = {
                _ROWS[r + dr][i + di]
                for dr in (-1, 0, 1)
                for di in (-1, 0, 1)
                if 0 <= r + dr < 3 and 0 <= i + di < len(_ROWS[r + dr])
            }
            near[key] = "".join(sorted(around - {key}))
    return near


_NEAR = _neighbours()


def misspelt(text: str, rng: random.Random, rate: float) -> str:
    out = []
    for word in text.split(" "):
        core = word.strip("?,.!")
        if len(core) >= 4 and core.isalpha() and rng.random() < rate:
            at = rng.randrange(1, len(core) - 1)
            letters = list(core)
            how = rng.choice(("swap", "drop", "double", "near"))
            if how == "swap":
                letters[at], letters[at + 1] = letters[at + 1], letters[at]
            elif how == "drop":
                del letters[at]
            elif how == "double":
                letters.insert(at, letters[at])
            elif letters[at].lower() in _NEAR:
                letters[at] = rng.choice(_NEAR[letters[at].lower()])
            word = word.replace(core, "".join(letters))
        out.append(word)
    return " ".join(out)


def variants(cases: list[dict[str, Any]], *, seed: int, rate: float) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    made = []
    for case in cases:
        for k in range(3):
            variant = copy.deepcopy(case)
            variant["id"] = f"{case['id']}~{k}"
            variant["turns"] = [misspelt(case["turns"][0], rng, rate)]
            if variant["turns"] != case["turns"]:
                made.append(variant)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", type=Path, nargs="+")
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=0.35)
    args = parser.parse_args()
    if any("holdout" in path.name for path in args.cases):
        parser.error("dev sets only: a holdout's questions are not to be varied and read")
    cases = [case for path in args.cases for case in load(path) if len(case["turns"]) == 1]
    answered = [
        c for c in cases if c["kind"] in ("direct", "paraphrase") and c["expect"] != "decline"
    ]
    refused = [c for c in cases if c["expect"] == "decline"]
    for name, chosen in (("in scope", answered), ("to refuse", refused)):
        right = [o.case for o in outcomes_for(chosen) if o.correct]
        outcomes = outcomes_for(variants(right, seed=args.seed, rate=args.rate))
        held = sum(o.correct for o in outcomes)
        print(f"{name}: right as written {len(right)}/{len(chosen)}; with typos", end=" ")
        print(f"{held}/{len(outcomes)} = {held / len(outcomes):.1%}")
        if args.misses:
            print("\n".join(miss_line(o) for o in outcomes if not o.correct))


if __name__ == "__main__":
    main()
