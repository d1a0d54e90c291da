"""The delivery ledger survives a crash through its journal and compacts into TinyDB."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from bot.store.ledger import JOURNAL_FILE, KEEP_DAYS, LEDGER_FILE, Ledger
from tests.store.conftest import Where

DAY = dt.date(2026, 11, 26)
AT = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)


def ON_DAY() -> dt.date:
    return DAY


def test_entries_survive_a_crash_without_close(where: Where) -> None:
    ledger = Ledger(where(), today=ON_DAY)
    ledger.record(1, DAY, "sending", AT)
    ledger.record(1, DAY, "sent", AT)
    ledger.record(2, DAY, "sending", AT)
    # No close(): as after kill -9, only the journal holds these entries.
    reopened = Ledger(where(), today=ON_DAY)
    assert reopened.status(1, DAY) == "sent" and reopened.is_final(1, DAY)
    assert reopened.status(2, DAY) == "sending" and not reopened.is_final(2, DAY)
    assert reopened.last_sent(1) == AT and reopened.last_sent(2) is None
    reopened.close()
    ledger.close()


def test_compaction_folds_the_journal_into_tinydb(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, today=ON_DAY, compact_every=3)
    for chat in range(1, 5):
        ledger.record(chat, DAY, "sent", AT)
    ledger.settle()
    stored = json.loads((tmp_path / LEDGER_FILE).read_text(encoding="utf-8"))
    assert len(stored["deliveries"]) == 3
    assert len((tmp_path / JOURNAL_FILE).read_bytes().splitlines()) == 1
    ledger.close()
    assert (tmp_path / JOURNAL_FILE).read_bytes() == b""
    assert Ledger(tmp_path, today=ON_DAY).status(4, DAY) == "sent"


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, today=ON_DAY)
    ledger.record(1, DAY, "sent", AT)
    with (tmp_path / JOURNAL_FILE).open("ab") as journal:
        journal.write(b'{"chat": 2, "date": "2026-')
    reopened = Ledger(tmp_path, today=ON_DAY)
    assert reopened.status(1, DAY) == "sent" and reopened.status(2, DAY) is None
    reopened.close()
    ledger.close()


def test_old_entries_are_pruned(where: Where) -> None:
    ledger = Ledger(where(), today=ON_DAY)
    ledger.record(1, DAY - dt.timedelta(days=60), "sent", AT)
    ledger.record(1, DAY, "sent", AT)
    ledger.compact()
    assert ledger.status(1, DAY - dt.timedelta(days=60)) is None
    assert ledger.status(1, DAY) == "sent"
    ledger.close()


def test_the_horizon_follows_the_injected_clock_not_the_wall_clock(where: Where) -> None:
    """Entries are kept KEEP_DAYS after the day the clock says, at any real date."""
    today = [DAY]
    ledger = Ledger(where(), today=lambda: today[0])
    ledger.record(1, DAY, "sent", AT)
    ledger.compact()
    assert ledger.status(1, DAY) == "sent"
    today[0] = DAY + dt.timedelta(days=KEEP_DAYS)
    ledger.compact()
    assert ledger.status(1, DAY) == "sent"
    today[0] = DAY + dt.timedelta(days=KEEP_DAYS + 1)
    ledger.compact()
    assert ledger.status(1, DAY) is None
    ledger.close()


def test_a_journal_left_by_the_previous_format_is_replayed(tmp_path: Path) -> None:
    """Before journaled tables, each line was a bare entry; a crash could leave some unfolded."""
    (tmp_path / JOURNAL_FILE).write_bytes(
        b'{"chat":1,"date":"2026-11-26","status":"sent","at":"2026-11-26T07:00:00+00:00"}\n'
        b'{"chat":2,"date":"2026-11-26","status":"sending","at":"2026-11-26T07:00:00+00:00",'
        b'"parts":1}\n'
        b'{"chat":3,"date":"2026-'
    )
    ledger = Ledger(tmp_path, today=ON_DAY)
    assert ledger.status(1, DAY) == "sent" and ledger.last_sent(1) == AT
    assert ledger.parts_sent(2, DAY) == 1
    assert ledger.status(3, DAY) is None
    ledger.record(3, DAY, "sent", AT)
    ledger.close()
    reopened = Ledger(tmp_path, today=ON_DAY)
    assert [reopened.status(c, DAY) for c in (1, 2, 3)] == ["sent", "sending", "sent"]
    reopened.close()
