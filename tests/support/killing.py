"""Run a Python writer in a child process and kill -9 it mid-work, as a crash would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO


def kill_while_writing(script: str, *args: str, after: float) -> str:
    """Starts ``script`` (it prints "ready" once set up), SIGKILLs it ``after`` seconds later,
    and returns what it printed after "ready"."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(after)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return proc.stdout.read()
    finally:
        proc.stdout.close()
