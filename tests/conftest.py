"""Shared fixtures: settings on a temporary data directory and the shipped content."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.services import Services
from bot.config import Settings
from bot.content.loader import load_library
from bot.core.clock import system_clock
from bot.core.domain import Library
from tests import timetravel
from tests.support.postgres import PostgresServer, server_binaries

# As bot/tg does for the application: tests that build RetryAfter before importing bot.tg.
os.environ.setdefault("PTB_TIMEDELTA", "true")

REPO = Path(__file__).resolve().parent.parent
CONTENT = REPO / "content"


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TRAVEL] = timetravel.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    travel = config.stash.get(_TRAVEL, None)
    if travel is not None:
        travel.stop()


def pytest_report_header(config: pytest.Config) -> str:
    return f"partnerbrief: the wall clock says {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"


_TRAVEL = pytest.StashKey["timetravel.time_machine.travel | None"]()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", content_dir=CONTENT)


@pytest.fixture(scope="session")
def library() -> Library:
    return load_library(CONTENT)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    opened = Services.open(settings, system_clock)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the run, started here (initdb in a temporary directory, a
    free port on 127.0.0.1) and stopped at the end; each test takes a database of its own.

    Without the server binaries the PostgreSQL tests are skipped on a developer's machine and
    fail under CI (``CI`` set): .ci/run installs Debian's package, so a skip there would hide
    that the backend went untested.
    """
    bindir = server_binaries()
    if bindir is None:
        message = (
            "PostgreSQL's server binaries (initdb, pg_ctl) were not found: "
            "apt-get install postgresql"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(bindir)
    server.start()
    yield server
    server.close()


@pytest.fixture
def database_url(postgres: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres.new_database()


@pytest.fixture
def own_postgres(postgres: PostgresServer) -> Iterator[PostgresServer]:
    """A server of this test's own, to stop, kill and restart without disturbing the others."""
    bindir = server_binaries()
    assert bindir is not None  # the session's server started
    server = PostgresServer(bindir)
    server.start()
    yield server
    server.close()
