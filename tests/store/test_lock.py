"""One process owns the data directory; a second one is refused with a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.store.lock import DataDirLock, DataDirLocked
from tests.conftest import REPO


def test_second_lock_in_same_process_is_refused(tmp_path: Path) -> None:
    with DataDirLock(tmp_path), pytest.raises(DataDirLocked, match="already in use"):
        DataDirLock(tmp_path).acquire()
    with DataDirLock(tmp_path):
        pass  # released on exit, so it can be taken again


def test_second_process_exits_with_a_clear_message(tmp_path: Path) -> None:
    with DataDirLock(tmp_path):
        result = subprocess.run(
            [sys.executable, "-m", "bot", "content", "load"],
            cwd=REPO,
            env={"BOT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 3
    assert "already in use by another partnerbrief process" in result.stderr
    assert "Traceback" not in result.stderr
