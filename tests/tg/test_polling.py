"""A second process long-polling the same token says so and exits with its own code; the
first keeps polling and answering (real processes against the Bot API double, which answers
overlapping getUpdates with 409 Conflict as Telegram does)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from bot.cli import EXIT_POLLING_CONFLICT
from tests.support.botapi_double import BotApiDouble
from tests.tg.test_ops import _start, _stop

pytestmark = pytest.mark.e2e


def test_a_second_poller_on_one_token_exits_with_a_clear_line(
    double: BotApiDouble, tmp_path: Path
) -> None:
    first = _start(double, tmp_path / "first")
    second = None
    try:
        double.send_text(5, "/start", language_code="en")
        double.wait_for_messages(5, 1, timeout=60)  # the first one has completed a poll
        second = _start(double, tmp_path / "second")
        code = second.wait(timeout=90)
        out, err = second.communicate(timeout=10)
        assert code == EXIT_POLLING_CONFLICT, out + err
        assert "another process is already long-polling Telegram for this bot token" in out + err
        assert "Traceback" not in out + err
        double.send_text(6, "/start", language_code="en")
        double.wait_for_messages(6, 1, timeout=60)  # the first still answers
    finally:
        if second is not None and second.poll() is None:
            second.send_signal(signal.SIGKILL)
            second.wait()
        logs, _ = _stop(first)
    assert first.returncode == 0, logs
    assert "a second process started long-polling this bot token" in logs
