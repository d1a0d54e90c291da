"""The blind dev sets (blind_dev*.yaml) through the real answering code, as
floors that tuning must not fall below. Their holdout twins are not run here: they are scored
once, by bench/evaluate.py, and reported as they came out."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.evaluate import load, report
from tests.eval.test_eval import outcomes_for

BLIND_DEV = Path(__file__).with_name("blind_dev.yaml")
BLIND_DEV2 = Path(__file__).with_name("blind_dev2.yaml")
BLIND_DEV3 = Path(__file__).with_name("blind_dev3.yaml")
BLIND_DEV4 = Path(__file__).with_name("blind_dev4.yaml")
BLIND_DEV5 = Path(__file__).with_name("blind_dev5.yaml")
BLIND_DEV6 = Path(__file__).with_name("blind_dev6.yaml")
BLIND_DEV7 = Path(__file__).with_name("blind_dev7.yaml")
# Floors and ceilings as measured at the end of the last tuning pass (docs/RETRIEVAL.md,
# "Sixth pass"); each may only tighten. In scope correct and cited, and refusals answered
# with a fact: blind_dev 92/95, 0; blind_dev2 60/63, 0; blind_dev3 93/100, 1; blind_dev4
# 89/100, 0; blind_dev5 83/100, 0; blind_dev6 83/100, 1 (74 and 4 when it was first scored,
# before any tuning); blind_dev7 (look-alike refusals) 59/80, 15 (59 and 20 when first scored).
FLOORS = {
    BLIND_DEV: (0.97, 0),
    BLIND_DEV2: (0.95, 0),
    BLIND_DEV3: (0.93, 1),
    BLIND_DEV4: (0.91, 0),
    BLIND_DEV5: (0.84, 0),
    BLIND_DEV6: (0.87, 1),
    BLIND_DEV7: (0.73, 15),
}


@pytest.mark.parametrize("path", list(FLOORS), ids=lambda p: p.stem)
def test_a_blind_dev_set_stays_above_its_floor(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = outcomes_for(load(path))
    with capsys.disabled():
        print(f"\n{path.stem}:\n" + report(outcomes, misses=False))
    floor, most_fabricated = FLOORS[path]
    in_scope = [o for o in outcomes if o.case["expect"] != "decline"]
    assert sum(o.correct for o in in_scope) / len(in_scope) >= floor
    fabricated = [o.case["id"] for o in outcomes if o.fabricated]
    assert len(fabricated) <= most_fabricated, fabricated
