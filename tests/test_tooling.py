"""The code passes ruff (lint and format) and mypy --strict, as part of the suite."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_ruff_lint_and_format() -> None:
    lint = _run("ruff", "check", "bot", "tests", "bench")
    assert lint.returncode == 0, lint.stdout
    fmt = _run("ruff", "format", "--check", "bot", "tests", "bench")
    assert fmt.returncode == 0, fmt.stdout


def test_mypy_strict_on_bot() -> None:
    result = _run("mypy", "--strict", "bot")
    assert result.returncode == 0, result.stdout
