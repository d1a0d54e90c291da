"""Receipts: which fact revisions each chat was told, bounded per chat, kept across a restart."""

from __future__ import annotations

import datetime as dt

from bot.store.receipts import ReceiptStore
from tests.store.conftest import Where

AT = dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC)


def test_readers_are_those_told_before_the_instant_and_survive_a_restart(where: Where) -> None:
    store = ReceiptStore.open(where())
    store.record(1, [("a", 1), ("b", 1)], AT, "fr")
    store.record(2, [("a", 1)], AT + dt.timedelta(hours=2), "en")
    store.record(1, [("a", 1)], AT + dt.timedelta(hours=3))  # the first telling is kept
    store.close()
    reopened = ReceiptStore.open(where())
    try:
        assert reopened.readers("a", before=AT + dt.timedelta(hours=1)) == [1]
        assert reopened.readers("a", before=AT + dt.timedelta(hours=3)) == [1, 2]
        assert reopened.lang(1) == "fr"
        assert reopened.told(1, "b") == (1, AT)
    finally:
        reopened.close()


def test_each_chat_keeps_only_its_last_facts(where: Where) -> None:
    store = ReceiptStore.open(where(), keep=3)
    try:
        for n in range(5):
            store.record(7, [(f"f{n}", 1)], AT + dt.timedelta(minutes=n))
        assert [f for f in ("f0", "f1", "f2", "f3", "f4") if store.told(7, f)] == [
            "f2",
            "f3",
            "f4",
        ]
        assert store.readers("f0", before=AT + dt.timedelta(days=1)) == []
    finally:
        store.close()
