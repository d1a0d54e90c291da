"""Store files survive kill -9 mid-write: a reader sees the old or the new file, never a mix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.store.atomic import AtomicJSONStorage, StoreCorrupted
from tests.conftest import REPO
from tests.support.killing import kill_while_writing

WRITER = """
import sys
from tinydb import TinyDB
from bot.store.atomic import AtomicJSONStorage
db = TinyDB(sys.argv[1], storage=AtomicJSONStorage)
table = db.table("t")
i = len(table)
print("ready", flush=True)
while True:
    i += 1
    table.insert({"n": i, "pad": "x" * 2000})
"""


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    storage = AtomicJSONStorage(tmp_path / "s.json")
    assert storage.read() is None
    storage.write({"t": {"1": {"a": "é"}}})
    assert AtomicJSONStorage(tmp_path / "s.json").read() == {"t": {"1": {"a": "é"}}}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_corrupted_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"t": {"1": ', encoding="utf-8")
    with pytest.raises(StoreCorrupted, match="corrupted"):
        AtomicJSONStorage(path).read()
    assert path.read_text(encoding="utf-8") == '{"t": {"1": '


def test_kill_9_during_writes_leaves_a_valid_store(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    counts = []
    for round_ in range(8):
        kill_while_writing(WRITER, str(path), after=0.05 + 0.03 * round_)
        data = json.loads(path.read_text(encoding="utf-8"))
        numbers = sorted(doc["n"] for doc in data["t"].values())
        assert numbers == list(range(1, len(numbers) + 1)), "a write was torn or reordered"
        counts.append(len(numbers))
    assert counts == sorted(counts) and counts[-1] > counts[0], counts


def test_corrupted_store_is_moved_aside_at_start_up_with_a_clear_exit(tmp_path: Path) -> None:
    """Detected, renamed with a timestamp, reported with exit code 6, never overwritten."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "users.json").write_text('{"users": {"1": {"user_id": 1', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        cwd=REPO,
        env={"BOT_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"},
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 6, result.stderr
    assert "users.json" in result.stderr and "moved aside" in result.stderr
    assert "Traceback" not in result.stderr
    moved = [p for p in data.iterdir() if p.name.startswith("users.json.corrupt-")]
    assert len(moved) == 1
    assert moved[0].read_text(encoding="utf-8") == '{"users": {"1": {"user_id": 1'
    assert not (data / "users.json").exists()
