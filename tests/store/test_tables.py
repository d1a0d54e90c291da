"""The embedded backend's durability: ``acknowledged`` waits for every durable journal it
opened to be fsynced (by each journal's own thread), and only for those."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.store.tables import TinyDBBackend
from tests.support.fsync import hold_fsync

KEYS = {"people": lambda doc: str(doc["id"])}


async def test_acknowledged_waits_for_the_fsync_of_each_durable_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change to a durable set is acknowledged once fsynced; a closed set is not waited for,
    and a set that is not durable never holds the wait."""
    backend = TinyDBBackend(tmp_path)
    users = backend.open_tables("users", KEYS)
    ledger = backend.open_tables("ledger", KEYS, durable=False)
    release = hold_fsync(monkeypatch)
    ledger.put("people", "1", {"id": 1})
    assert await backend.acknowledged(0)  # nothing durable is pending
    users.put("people", "1", {"id": 1})
    assert not await backend.acknowledged(0.1)  # its fsync is held
    waiting = asyncio.create_task(backend.acknowledged(5))
    await asyncio.sleep(0.02)
    assert not waiting.done()
    release.set()
    assert await waiting
    users.close()
    ledger.close()
    assert await backend.written(0)
