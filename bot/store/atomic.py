"""A TinyDB storage whose writes are atomic: temp file, fsync, os.replace, fsync of the dir.

TinyDB's JSONStorage truncates and rewrites the file in place, so a kill mid-write leaves
invalid JSON. Here a reader sees either the old file or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

_SYNC_EVERY = 1 << 20


class StoreCorrupted(Exception):
    """A store file exists but is not valid TinyDB JSON."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: store file is corrupted ({reason})")


class AtomicJSONStorage(Storage):
    """Atomic writes, and reads served from memory after the first one.

    The cache is sound only because one process owns the data directory (see lock.py).
    TinyDB mutates what ``read`` returned and then calls ``write``; when that write fails the
    cache is dropped so that memory never runs ahead of the disk.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, dict[str, Any]] | None = None

    @property
    def path(self) -> Path:
        return self._path

    def read(self) -> dict[str, dict[str, Any]] | None:
        if self._cache is None:
            self._cache = self._read_file()
        return self._cache

    def _read_file(self) -> dict[str, dict[str, Any]] | None:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return None
        if not raw.strip():
            return None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise StoreCorrupted(self._path, str(exc)) from None
        if not isinstance(data, dict):
            raise StoreCorrupted(self._path, "top level is not an object")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.write_encoded((payload,))
        self._cache = data

    def write_encoded(self, chunks: Iterable[bytes]) -> None:
        """Writes JSON the caller encodes, in pieces (a worker thread may: writing piece by
        piece lets other threads run in between); the next read reads it back."""
        self._cache = None
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{self._path.name}.", suffix=".tmp", dir=self._path.parent
        )
        try:
            with os.fdopen(fd, "wb") as tmp:
                unsynced = 0
                for chunk in chunks:
                    tmp.write(chunk)
                    unsynced += len(chunk)
                    if unsynced >= _SYNC_EVERY:
                        # Keeps the dirty pages few: an fsync elsewhere (the journal's, for
                        # every /lang) would otherwise wait for megabytes of this file (ext4
                        # commits them together): 35 ms stalls at 100,000 subscriptions.
                        tmp.flush()
                        os.fdatasync(tmp.fileno())
                        unsynced = 0
                tmp.flush()
                os.fsync(tmp.fileno())
            Path(tmp_name).replace(self._path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(self._path.parent)

    def close(self) -> None:
        """Nothing is held open between writes."""


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry itself reaches the disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def quarantine_corrupted(data_dir: Path, names: tuple[str, ...], now: str) -> None:
    """Check each store file; move an unreadable one aside and raise StoreCorrupted.

    The damaged file is renamed, never overwritten, so that an operator can inspect or repair
    it; ``now`` (e.g. 20261126T050102Z) makes the new name unique.
    """
    for name in names:
        path = data_dir / name
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("top level is not an object")
        except ValueError as exc:
            moved = path.with_name(f"{path.name}.corrupt-{now}")
            path.rename(moved)
            raise StoreCorrupted(
                path,
                f"{exc}; moved aside to {moved.name}. Restore it from a backup, or "
                "start again to begin with an empty file (facts.json is rebuilt from content/)",
            ) from None
