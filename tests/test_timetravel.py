"""The suite's own time travel moves this process and the bots it starts, together."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from bot.core.clock import system_clock
from tests.timetravel import VARIABLE

WANTED = os.environ.get(VARIABLE)


@pytest.mark.skipif(not WANTED, reason=f"runs when {VARIABLE} is set (.ci/run sets it)")
def test_the_bot_and_its_subprocesses_live_on_the_chosen_date() -> None:
    assert WANTED is not None
    wanted = dt.date.fromisoformat(WANTED)
    assert system_clock().date() == wanted
    script = "from bot.core.clock import system_clock; print(system_clock().date())"
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert child.stdout.strip() == wanted.isoformat()


def test_the_clock_is_aware_and_in_utc() -> None:
    now = system_clock()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)
