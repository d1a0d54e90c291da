"""The same question gets the same ranking, scores and coverage in every process, whatever
Python's string-hash seed (which orders sets): an answer on a threshold must not flip between
runs."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

_SEARCH = """
import yaml
from bot.content.lexicon import load_lexicon
from bot.content.loader import load_library
from bot.qa.retrieval.index import FactIndex
from tests.conftest import CONTENT
index = FactIndex(load_library(CONTENT), load_lexicon(CONTENT))
cases = yaml.safe_load(open("tests/eval/blind_dev3.yaml", encoding="utf-8"))["cases"]
for case in cases:
    result = index.search(case["turns"][-1], case["expect_lang"])
    hits = [(h.fact_id, h.score.hex(), h.coverage.hex()) for h in result.hits]
    print(result.found, result.reason, hits)
"""


def _searched(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", _SEARCH], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_search_results_do_not_depend_on_the_hash_seed() -> None:
    first = _searched("1")
    assert first.count("\n") == 140
    for seed in ("2", "3", "4"):
        assert _searched(seed) == first
