"""Runs the whole suite at another date: ``PARTNERBRIEF_TEST_DATE=2030-06-15 pytest``.

The bot reads the wall clock in one place (bot/core/clock.py), and the suite must pass whatever
that clock says. CI runs it at the real date and at two others (.ci/run; the tests marked
``real_clock`` only at the real date: what they run, the moved clock cannot reach).
time-machine moves the clock of this process, keeping the real time of day and letting it
tick, and every Python subprocess a test starts (the bot under kill -9, the CLI) moves with it
through the ``sitecustomize`` beside this file. Monotonic clocks, which asyncio and timeouts
use, are left alone.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import time_machine

VARIABLE = "PARTNERBRIEF_TEST_DATE"
_SITE = Path(__file__).resolve().parent / "support" / "timetravel"
_PASSED_ON = ("PARTNERBRIEF_TRAVEL_OFFSET", "PYTHONPATH")


def child_env() -> dict[str, str]:
    """What a subprocess started with a clean environment needs to travel along."""
    return {name: os.environ[name] for name in _PASSED_ON if name in os.environ}


def start() -> time_machine.travel | None:
    """Travel to PARTNERBRIEF_TEST_DATE, if set; the caller stops what this returns."""
    wanted = os.environ.get(VARIABLE)
    if not wanted:
        return None
    if "PARTNERBRIEF_TRAVEL_OFFSET" in os.environ:
        # A process the traveling run started (an xdist worker): its sitecustomize already
        # travels, and an offset worked out from its moved clock would be zero for its children.
        return None
    real = dt.datetime.now(dt.UTC)
    target = dt.datetime.combine(dt.date.fromisoformat(wanted), real.timetz())
    os.environ["PARTNERBRIEF_TRAVEL_OFFSET"] = repr((target - real).total_seconds())
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_SITE), os.environ.get("PYTHONPATH")) if p
    )
    travel = time_machine.travel(target, tick=True)
    travel.start()
    return travel
