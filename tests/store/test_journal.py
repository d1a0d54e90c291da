"""Journaled tables: each change is one appended line, replayed after a crash and folded into
the TinyDB file in batches; a kill -9 at any moment loses nothing that was acknowledged."""

from __future__ import annotations

import asyncio
import errno
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from tinydb import TinyDB

from bot.store.atomic import AtomicJSONStorage
from bot.store.journal import JournaledTables, journal_path, load_tables, sealed_segments
from tests.support.fsync import hold_fsync
from tests.support.killing import kill_while_writing

KEYS = {"people": lambda doc: str(doc["id"])}

WRITER = """
import sys
from pathlib import Path
from bot.store.journal import JournaledTables
tables = JournaledTables(Path(sys.argv[1]), {"people": lambda d: str(d["id"])}, compact_every=50)
n = len(tables.table("people"))
print("ready", flush=True)
while True:
    n += 1
    tables.put("people", str(n), {"id": n, "pad": "x" * 500})
    print(n, flush=True)
"""


def test_changes_survive_a_crash_without_close(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    tables = JournaledTables(path, KEYS)
    tables.put("people", "1", {"id": 1, "name": "Ada"})
    tables.put("people", "2", {"id": 2, "name": "Alan"})
    tables.put("people", "1", {"id": 1, "name": "Ada L."})
    tables.put("people", "2", None)
    # No close(): as after kill -9, only the journal holds these changes.
    assert load_tables(path, KEYS) == {"people": {"1": {"id": 1, "name": "Ada L."}}}
    tables.close()


def test_compaction_folds_the_journal_into_the_file_and_keeps_other_tables(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.json"
    # A file as TinyDB wrote it: sequential document ids, and a table nobody manages here.
    path.write_text(
        json.dumps({"people": {"1": {"id": 7, "name": "old"}}, "misc": {"1": {"x": 1}}}),
        encoding="utf-8",
    )
    tables = JournaledTables(path, KEYS, compact_every=2)
    assert tables.table("people") == {"7": {"id": 7, "name": "old"}}
    tables.put("people", "7", {"id": 7, "name": "new"})
    assert len(journal_path(path).read_bytes().splitlines()) == 1
    tables.put("people", "8", {"id": 8, "name": "Grace"})  # the second change compacts
    tables.settle()  # folds run on a worker thread
    assert journal_path(path).read_bytes() == b""
    assert sealed_segments(journal_path(path)) == [], "the fold deleted what it covered"
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored == {  # still TinyDB's layout: numbered documents
        "misc": {"1": {"x": 1}},
        "people": {"1": {"id": 7, "name": "new"}, "2": {"id": 8, "name": "Grace"}},
    }
    assert len(TinyDB(path, storage=AtomicJSONStorage).table("people")) == 2
    tables.close()


def test_compaction_drops_what_keep_turns_down(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    tables = JournaledTables(path, KEYS, keep=lambda _, doc: doc["id"] > 1)
    tables.put("people", "1", {"id": 1})
    tables.put("people", "2", {"id": 2})
    tables.compact()
    assert tables.table("people") == {"2": {"id": 2}}
    tables.put("people", "1", {"id": 1})
    tables.compact(keep=lambda _, doc: True)
    tables.close()
    assert load_tables(path, KEYS) == {"people": {"2": {"id": 2}}}, "close() keeps the default"


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    tables = JournaledTables(path, KEYS)
    tables.put("people", "1", {"id": 1})
    with journal_path(path).open("ab") as journal:
        journal.write(b'{"t":"people","k":"2","d":{"id"')
    assert load_tables(path, KEYS) == {"people": {"1": {"id": 1}}}
    tables.close()


def _writes_part_then_fills_the_disk(
    real_write: Callable[[int, bytes], int],
) -> Callable[[int, bytes], int]:
    """An os.write that gets ten bytes of its data out, then finds the disk full."""

    def disk_full(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    return disk_full


def test_a_change_after_a_torn_line_starts_a_line_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    JournaledTables(path, KEYS).put("people", "1", {"id": 1})
    with journal_path(path).open("ab") as journal:
        journal.write(b'{"t":"people","k":"2","d":{"id"')  # killed mid-write: not acknowledged
    reopened = JournaledTables(path, KEYS)
    reopened.put("people", "3", {"id": 3})
    # No close(): the journal alone must hold change 3.
    assert load_tables(path, KEYS) == {"people": {"1": {"id": 1}, "3": {"id": 3}}}
    reopened.close()


def test_a_failed_write_leaves_no_partial_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.json"
    tables = JournaledTables(path, KEYS)
    tables.put("people", "1", {"id": 1})
    real_write = os.write
    disk_full = _writes_part_then_fills_the_disk(real_write)
    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(OSError, match="No space"):
        tables.put("people", "2", {"id": 2})
    monkeypatch.setattr(os, "write", real_write)
    tables.put("people", "3", {"id": 3})
    assert load_tables(path, KEYS) == {"people": {"1": {"id": 1}, "3": {"id": 3}}}
    tables.close()


async def test_a_change_whose_fsync_fails_is_kept_but_not_reported_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """put() returns once the line is written (a kill -9 keeps it); while fsync fails,
    written() says the change is not on the disk yet; once fsync works again, the next
    change's fsync covers both."""
    path = tmp_path / "t.json"
    tables = JournaledTables(path, KEYS)
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    tables.put("people", "1", {"id": 1})
    assert not await tables.written(0.3)
    assert tables.unsynced == 1
    assert load_tables(path, KEYS) == {"people": {"1": {"id": 1}}}, "written, as for a kill -9"
    monkeypatch.setattr(os, "fsync", real_fsync)
    tables.put("people", "2", {"id": 2})
    assert await tables.written(5)
    assert tables.unsynced == 0
    tables.close()


async def test_written_waits_for_the_syncer_and_a_fast_journal_never_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A durable journal's changes are reported durable once its thread fsynced them, with
    the event loop free meanwhile; a journal that is not durable has nothing to wait for."""
    path = tmp_path / "t.json"
    tables = JournaledTables(path, KEYS)
    release = hold_fsync(monkeypatch)
    tables.put("people", "1", {"id": 1})  # returns while the fsync waits
    waiting = asyncio.create_task(tables.written(5))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the loop ran on meanwhile
    release.set()
    assert await waiting
    tables.close()
    fast = JournaledTables(tmp_path / "f.json", KEYS, durable=False)
    fast.put("people", "1", {"id": 1})
    assert fast.unsynced == 0 and await fast.written(0)
    fast.close()


def test_a_partial_line_that_cannot_be_taken_back_is_ended_before_the_next_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.json"
    tables = JournaledTables(path, KEYS)
    disk_full = _writes_part_then_fills_the_disk(os.write)

    def cannot_truncate(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "write", disk_full)
    monkeypatch.setattr(os, "ftruncate", cannot_truncate)
    with pytest.raises(OSError, match="No space"):
        tables.put("people", "1", {"id": 1})
    monkeypatch.undo()
    tables.put("people", "2", {"id": 2})
    assert load_tables(path, KEYS) == {"people": {"2": {"id": 2}}}
    tables.close()


def test_a_failed_compaction_keeps_the_change_and_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.json"
    tables = JournaledTables(path, KEYS, compact_every=1)

    def disk_full(data: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tables._storage, "write_encoded", disk_full)
    tables.put("people", "1", {"id": 1})  # compaction fails; the put does not
    tables.settle()
    assert "folding t.journal into its file failed" in caplog.text
    assert load_tables(path, KEYS) == {"people": {"1": {"id": 1}}}
    monkeypatch.undo()
    tables.put("people", "2", {"id": 2})
    tables.settle()
    assert journal_path(path).read_bytes() == b"", "folded at the next change"
    assert sealed_segments(journal_path(path)) == []
    assert load_tables(path, KEYS) == {"people": {"1": {"id": 1}, "2": {"id": 2}}}
    tables.close()


def test_kill_9_during_writes_loses_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    acknowledged = 0
    for round_ in range(6):
        printed = kill_while_writing(WRITER, str(path), after=0.05 + 0.03 * round_)
        # The last number may be cut short by the kill; all before it were acknowledged.
        acknowledged = max([acknowledged, *map(int, printed.split()[:-1])])
        ids = sorted(int(key) for key in load_tables(path, KEYS)["people"])
        assert ids == list(range(1, len(ids) + 1)), "a change was lost or reordered"
        assert len(ids) >= acknowledged, "a change the writer had finished is missing"
    assert acknowledged > 50, "compaction ran at least once"


@pytest.mark.parametrize("count", [0, 1, 255, 256, 257, 1000])
def test_the_worker_writes_exactly_what_tinydb_would(tmp_path: Path, count: int) -> None:
    """The fold's piecewise encoding gives the same file as one json.dumps of the tables."""
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"misc": {"1": {"x": "é"}}}), encoding="utf-8")
    tables = JournaledTables(path, KEYS, compact_every=max(count, 1))
    for i in range(count):
        tables.put("people", str(i), {"id": i, "name": f"n° {i}"})
    tables.settle()
    if count:
        expected = {
            "misc": {"1": {"x": "é"}},
            "people": {str(i + 1): {"id": i, "name": f"n° {i}"} for i in range(count)},
        }
        assert json.loads(path.read_text(encoding="utf-8")) == expected
    tables.close()
    assert load_tables(path, KEYS)["people"] == {
        str(i): {"id": i, "name": f"n° {i}"} for i in range(count)
    }
