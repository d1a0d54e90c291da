"""The code passes ruff (lint and format) and mypy --strict, as part of the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_the_wall_clock_is_banned_outside_the_one_clock(tmp_path: Path) -> None:
    """ruff's banned-api rule (pyproject.toml) refuses a module of bot/ that reads the time."""
    planted = tmp_path / "planted.py"  # outside tests/ and bench/, which may read the time
    planted.write_text(
        "import datetime as dt\nimport time\n\n"
        "def stamp() -> float:\n    return dt.datetime.now(dt.UTC).timestamp() + time.time()\n",
        encoding="utf-8",
    )
    config = str(REPO / "pyproject.toml")
    found = _run("ruff", "check", "--config", config, "--select", "TID251", str(planted))
    assert found.returncode != 0
    assert "datetime.datetime.now" in found.stdout and "time.time" in found.stdout
    allowed = _run("ruff", "check", "--select", "TID251", "bot/clock.py")
    assert allowed.returncode == 0, allowed.stdout
