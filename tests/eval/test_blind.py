"""The blind dev sets (blind_dev.yaml, blind_dev2.yaml) through the real answering code, as
floors that tuning must not fall below. Their holdout twins are not run here: they are scored
once, by bench/evaluate.py, and reported as they came out."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.evaluate import load, report
from tests.eval.test_eval import outcomes_for

BLIND_DEV = Path(__file__).with_name("blind_dev.yaml")
BLIND_DEV2 = Path(__file__).with_name("blind_dev2.yaml")
# Measured 87/95 in scope (91.6 %) when this floor was set; out of scope all refused.
MIN_IN_SCOPE = 0.91
# blind_dev2, measured 59/63 in scope (93.7 %), 1 of 27 refusals answered with a fact: a
# floor and a ceiling that may only tighten.
MIN_IN_SCOPE_2 = 0.93
MAX_FABRICATED_2 = 1


def test_blind_dev_answers_and_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = outcomes_for(load(BLIND_DEV))
    with capsys.disabled():
        print("\nblind dev:\n" + report(outcomes, misses=False))
    in_scope = [o for o in outcomes if o.case["expect"] != "decline"]
    assert sum(o.correct for o in in_scope) / len(in_scope) >= MIN_IN_SCOPE
    assert [o.case["id"] for o in outcomes if o.fabricated] == []
    out = [o for o in outcomes if o.case["kind"] == "out-of-scope"]
    assert all(o.correct for o in out), [o.case["id"] for o in out if not o.correct]


def test_blind_dev2_stays_above_its_floor(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = outcomes_for(load(BLIND_DEV2))
    with capsys.disabled():
        print("\nblind dev 2:\n" + report(outcomes, misses=False))
    in_scope = [o for o in outcomes if o.case["expect"] != "decline"]
    assert sum(o.correct for o in in_scope) / len(in_scope) >= MIN_IN_SCOPE_2
    assert sum(o.fabricated for o in outcomes) <= MAX_FABRICATED_2
