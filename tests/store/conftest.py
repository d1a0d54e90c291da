"""The store tests run on both backends: a test that takes ``where`` runs once on a TinyDB
data directory and once on a PostgreSQL database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store.pg.backend import PgBackend
from bot.store.tables import Backend


class Where:
    """Where the stores live; each call opens it again, as a restarted bot would."""

    def __init__(self, kind: str, tmp_path: Path, url: str | None) -> None:
        self.kind = kind
        self._tmp_path = tmp_path
        self._url = url
        self._opened: list[PgBackend] = []

    def __call__(self) -> Path | Backend:
        if self._url is None:
            return self._tmp_path
        # What the earlier "process" had committed is what a restart finds.
        for earlier in self._opened:
            earlier.settle()
        backend = PgBackend(self._url)
        self._opened.append(backend)
        return backend

    def close(self) -> None:
        for backend in self._opened:
            backend.close()


@pytest.fixture(params=["tinydb", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Where]:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("database_url")
    opened = Where(request.param, tmp_path, url)
    yield opened
    opened.close()
