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
    assert [guard.check(1) for _ in range(3)] == ["ok", "ok", "ok"], "the cooldown is over"


def test_the_window_moves_with_each_update() -> None:
    """Three in any ten seconds: the oldest update leaving the window makes room for one."""
    now = [0.0]
    guard = FloodGuard(burst=3, window=10, cooldown=30, clock=lambda: now[0])
    for at in (0.0, 4.0, 8.0):
        now[0] = at
        assert guard.check(7) == "ok"
    now[0] = 10.5  # the update at 0 s is out of the window, those at 4 and 8 s are in
    assert guard.check(7) == "ok"
    now[0] = 13.9
    assert guard.check(7) == "warn"


def test_quiet_users_are_forgotten() -> None:
    """A thousand users who each wrote once leave nothing behind a window later."""
    now = [0.0]
    guard = FloodGuard(burst=3, window=10, cooldown=30, clock=lambda: now[0])
    for user_id in range(1000):
        guard.check(user_id)
    assert guard.tracked_users == 1000
    now[0] = 25.0
    assert guard.check(5000) == "ok"
    assert guard.tracked_users == 1
