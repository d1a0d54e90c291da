"""The core never imports telegram: only bot/tg/ may, so the console and CLI stay light."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_core_modules_do_not_import_telegram() -> None:
    core = [
        path.relative_to(REPO).with_suffix("").as_posix().replace("/", ".")
        for path in (REPO / "bot").rglob("*.py")
        if "tg" not in path.relative_to(REPO / "bot").parts and path.name != "__main__.py"
    ]
    assert "bot.app.chat" in core and "bot.store.facts" in core
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
