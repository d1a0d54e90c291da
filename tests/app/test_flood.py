"""Flood control: a burst is served, the next update warns once, then silence for a while."""

from __future__ import annotations

from bot.app.flood import FloodGuard


def test_burst_then_one_warning_then_silence_then_back() -> None:
    now = [0.0]
    guard = FloodGuard(burst=3, window=10, cooldown=30, clock=lambda: now[0])
    assert [guard.check(1) for _ in range(3)] == ["ok", "ok", "ok"]
    assert guard.check(1) == "warn"
    assert [guard.check(1) for _ in range(5)] == ["drop"] * 5
    assert guard.check(2) == "ok", "other users are not affected"
    now[0] = 31.0
    assert guard.check(1) in ("ok", "warn"), "the cooldown is over"
