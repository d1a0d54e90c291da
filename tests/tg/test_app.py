"""How ``python -m bot run`` sets up its event loop."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

_SHOW_LOOP = (
    "import asyncio; from bot.tg.app import _use_uvloop; _use_uvloop(); "
    "print(type(asyncio.get_event_loop()).__module__)"
)


def test_run_takes_uvloops_event_loop_when_it_is_installed() -> None:
    """The loop PTB's run_polling/run_webhook pick up (the current one) is uvloop's."""
    shown = subprocess.run(
        [sys.executable, "-c", _SHOW_LOOP],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert shown.stdout.strip().startswith("uvloop"), shown.stdout + shown.stderr
