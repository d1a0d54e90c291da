"""Shared fixtures: settings on a temporary data directory and the shipped content."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.content import load_library
from bot.domain import Library
from bot.services import Services

# As bot/tg does for the application: tests that build RetryAfter before importing bot.tg.
os.environ.setdefault("PTB_TIMEDELTA", "true")

REPO = Path(__file__).resolve().parent.parent
CONTENT = REPO / "content"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", content_dir=CONTENT)


@pytest.fixture(scope="session")
def library() -> Library:
    return load_library(CONTENT)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    opened = Services.open(settings)
    yield opened
    opened.close()
