"""The layers hold: import-linter checks pyproject's [tool.importlinter] contracts, a planted
forbidden import shows that they bite, and the core never loads telegram at run time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def _lint_imports(cwd: Path, config: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [LINT_IMPORTS, "--config", str(config), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_import_contracts_are_kept() -> None:
    result = _lint_imports(REPO, REPO / "pyproject.toml", REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert "Only bot.tg imports telegram KEPT" in result.stdout


def test_a_planted_forbidden_import_breaks_the_contracts(tmp_path: Path) -> None:
    """A copy of bot/ whose core imports telegram and the root: lint-imports must fail."""
    shutil.copytree(REPO / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    clock = tmp_path / "bot" / "core" / "clock.py"
    clock.write_text(
        clock.read_text() + "\nimport telegram  # planted\nimport bot.app.services  # planted\n"
    )
    result = _lint_imports(tmp_path, tmp_path / "pyproject.toml", tmp_path)
    assert result.returncode != 0, result.stdout
    assert "Only bot.tg imports telegram BROKEN" in result.stdout
    assert "core imports nothing of ours outside core BROKEN" in result.stdout
    assert "bot.core.clock -> telegram" in result.stdout
    assert "bot.core.clock -> bot.app.services" in result.stdout


def test_core_modules_do_not_import_telegram() -> None:
    core = [
        path.relative_to(REPO).with_suffix("").as_posix().replace("/", ".")
        for path in (REPO / "bot").rglob("*.py")
        if "tg" not in path.relative_to(REPO / "bot").parts and path.name != "__main__.py"
    ]
    assert "bot.app.router" in core and "bot.store.facts" in core
    script = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name.removesuffix('.__init__'))\n"
        "leaked = sorted(m for m in sys.modules if m == 'telegram' or m.startswith('telegram.'))\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"core imported {result.stdout.strip()}"


def test_the_telegram_adapter_does_import_telegram() -> None:
    """Guards the test above against passing because nothing was imported at all."""
    script = "import sys, bot.tg.app; print('telegram' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True"


def test_the_architecture_page_names_every_module() -> None:
    """docs/ARCHITECTURE.md says where a change goes: a module it does not name is lost."""
    page = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    unnamed = [
        str(path.relative_to(REPO))
        for path in sorted((REPO / "bot").rglob("*.py"))
        if path.name != "__init__.py" and path.name not in page
    ]
    assert unnamed == []
