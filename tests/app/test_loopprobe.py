"""The loop probe (BOT_LOOP_PROBE, for bench/soak.py) records the event loop's stalls and splits
each into the loop thread's own CPU, the collector's share and time it was blocked."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from pathlib import Path

from bot.app.loopprobe import LoopProbe


def _spin(seconds: float) -> None:
    """Busy work on the calling thread's CPU, measured on its own CPU clock."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def test_a_busy_callback_a_blocking_call_and_a_collection_are_told_apart(
    tmp_path: Path,
) -> None:
    """Spinning on the loop is recorded as a stall of own CPU; sleeping on it as a blocked
    stall; a full collection run meanwhile is timed and counted as generation 2."""
    probe = LoopProbe(tmp_path / "probe.json")
    probe.start()
    await asyncio.sleep(0.02)
    _spin(0.06)
    await asyncio.sleep(0.02)
    time.sleep(0.06)  # noqa: ASYNC251 - the stall under test
    await asyncio.sleep(0.02)
    gc.collect()
    await asyncio.sleep(0.02)
    await probe.stop()
    written = json.loads((tmp_path / "probe.json").read_text(encoding="utf-8"))
    assert written["gc"]["count"][2] >= 1
    assert probe.gc not in gc.callbacks  # stop() unhooks it
    stalls = written["stalls"]  # [at, late, cpu, gc, runqueue, blocked]
    assert any(s[1] >= 0.05 and s[2] >= 0.05 for s in stalls), stalls  # the spin: own CPU
    assert any(s[1] >= 0.05 and s[5] >= 0.04 and s[2] < 0.03 for s in stalls), stalls  # sleep


async def test_without_stalls_nothing_is_recorded_but_ticks(tmp_path: Path) -> None:
    """An idle loop wakes the probe on time: ticks counted, no stall written."""
    probe = LoopProbe(tmp_path / "probe.json")
    probe.start()
    await asyncio.sleep(0.1)
    await probe.stop()
    written = json.loads((tmp_path / "probe.json").read_text(encoding="utf-8"))
    assert written["ticks"] >= 5
    assert all(s[1] >= written["stall_from"] for s in written["stalls"])
