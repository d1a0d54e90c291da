"""The blind dev set (blind_dev.yaml) through the real answering code, as a floor that tuning
must not fall below. Its holdout twin is not run here: it is scored once, by bench/evaluate.py,
and reported as it came out."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.evaluate import load, report
from tests.eval.test_eval import outcomes_for

BLIND_DEV = Path(__file__).with_name("blind_dev.yaml")
# Measured 111/130 when this floor was set; out-of-scope questions must all be refused.
MIN_IN_SCOPE = 0.80


def test_blind_dev_answers_and_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = outcomes_for(load(BLIND_DEV))
    with capsys.disabled():
        print("\nblind dev:\n" + report(outcomes, misses=False))
    in_scope = [o for o in outcomes if o.case["expect"] != "decline"]
    assert sum(o.correct for o in in_scope) / len(in_scope) >= MIN_IN_SCOPE
    assert [o.case["id"] for o in outcomes if o.fabricated] == []
    out = [o for o in outcomes if o.case["kind"] == "out-of-scope"]
    assert all(o.correct for o in out), [o.case["id"] for o in out if not o.correct]
