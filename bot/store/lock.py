"""One process owns a data directory: TinyDB is safe neither across threads nor processes."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType


class DataDirLocked(RuntimeError):
    """Another process already owns the data directory."""


class DataDirLock:
    """An exclusive, non-blocking flock on ``<data_dir>/.lock``, released on close or exit.

    flock is released by the kernel when the process dies, so a kill -9 never leaves a
    stale lock behind.
    """

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirLocked(
                f"data directory {self._path.parent} is already in use by another partnerbrief "
                f"process (pid {holder}); stop it first, or set BOT_DATA_DIR to another directory"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
