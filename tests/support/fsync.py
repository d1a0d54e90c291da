"""Holding fsync: a disk slow to make a change durable, so a test can see who waits for it."""

from __future__ import annotations

import os
import threading

import pytest


def hold_fsync(monkeypatch: pytest.MonkeyPatch, at_most: float = 5.0) -> threading.Event:
    """Every fsync waits until the returned event is set (or ``at_most`` seconds), then runs."""
    release = threading.Event()
    real_fsync = os.fsync

    def held(fd: int) -> None:
        release.wait(at_most)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", held)
    return release
