"""Where the event loop's stalls come from: a probe for benchmarks (``BOT_LOOP_PROBE``).

A task sleeps 5 ms again and again; each time it wakes late, the lateness is a stall of the
loop, which every update waiting in it pays. Each stall is split, from the loop thread's own
counters, into CPU the thread spent (the bot's own work, of which the cyclic collector's, timed
by ``gc.callbacks``), time it waited for a CPU (other processes: ``/proc/thread-self/schedstat``)
and the rest, time it was blocked (a system call such as fsync, the GIL held by another thread).
At stop the figures are written to the file as JSON (``bench/soak.py`` prints them). Off by
default: it costs a wake-up every 5 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICK = 0.005
STALL = 0.010  # lateness from which a wake-up counts as a stall


def _runqueue_wait(fd: int | None) -> float:
    """Seconds the thread whose schedstat ``fd`` reads has spent runnable but waiting for a
    CPU (0 if unknown); read again from the start of the open file, cheaper than opening it."""
    if fd is None:
        return 0.0
    try:
        return int(os.pread(fd, 128, 0).split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class _Gc:
    """Collections timed through ``gc.callbacks``, on whichever thread they run."""

    started: float = 0.0
    total: float = 0.0  # seconds in collections so far
    count: list[int] = field(default_factory=lambda: [0, 0, 0])
    seconds: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    longest: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self.started = now
            return
        took = now - self.started
        generation = int(info.get("generation", 2))
        self.total += took
        self.count[generation] += 1
        self.seconds[generation] += took
        self.longest[generation] = max(self.longest[generation], took)


@dataclass(frozen=True)
class Stall:
    at: float  # seconds since the probe started
    late: float
    cpu: float
    gc: float
    runqueue: float

    @property
    def blocked(self) -> float:
        return max(0.0, self.late + TICK - self.cpu - self.runqueue)


class LoopProbe:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.gc = _Gc()
        self.stalls: list[Stall] = []
        self.ticks = 0
        self.late_total = 0.0
        self._task: asyncio.Task[None] | None = None
        self._schedstat: int | None = None
        self._started = 0.0

    def start(self) -> None:
        """On the loop's thread: /proc/thread-self is that thread's."""
        gc.callbacks.append(self.gc)
        try:
            self._schedstat = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self._schedstat = None  # not Linux: no split of waiting for a CPU
        self._started = time.perf_counter()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-probe")

    async def _run(self) -> None:
        while True:
            wall, cpu = time.perf_counter(), time.thread_time()
            queue, collected = _runqueue_wait(self._schedstat), self.gc.total
            await asyncio.sleep(TICK)
            late = time.perf_counter() - wall - TICK
            self.ticks += 1
            if late < STALL:
                continue
            self.late_total += late
            self.stalls.append(
                Stall(
                    at=wall - self._started,
                    late=late,
                    cpu=time.thread_time() - cpu,
                    gc=self.gc.total - collected,
                    runqueue=_runqueue_wait(self._schedstat) - queue,
                )
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self.gc)
        if self._schedstat is not None:
            os.close(self._schedstat)
            self._schedstat = None
        self.path.write_text(json.dumps(self.summary()), encoding="utf-8")

    def summary(self) -> dict[str, Any]:
        return {
            "seconds": time.perf_counter() - self._started,
            "ticks": self.ticks,
            "tick": TICK,
            "stall_from": STALL,
            "gc": {
                "count": self.gc.count,
                "seconds": self.gc.seconds,
                "longest": self.gc.longest,
                "thresholds": list(gc.get_threshold()),
                "frozen": gc.get_freeze_count(),
                "tracked": len(gc.get_objects()),
            },
            "stalls": [[s.at, s.late, s.cpu, s.gc, s.runqueue, s.blocked] for s in self.stalls],
        }
