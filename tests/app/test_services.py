"""The composition root at work over real files: what a digest calls news survives re-imports.

A fact is news from the day its content says it was updated, not from the moment a data
directory happened to import it (bot/store/facts.py): rebuilding facts.json, re-importing the
same content or moving to a fresh data directory must send nobody a digest of the whole store.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from bot.app.services import Services
from bot.compose.render_text import render_plain
from bot.config import Settings
from bot.core.domain import Subscription
from bot.store.atomic import StoreCorrupted
from bot.store.facts import FACTS_FILE, news_instant
from bot.store.lock import DataDirLock
from bot.store.receipts import RECEIPTS_FILE
from bot.store.users import USERS_FILE
from tests.conftest import CONTENT
from tests.support.seed import before_content

UTC = dt.UTC


def _latest_update() -> dt.date:
    from bot.content.loader import load_library

    return max(f.updated for f in load_library(CONTENT).facts.values())


# Well after every fact of content/ was updated, whatever content/ holds when this runs.
FIRST_RUN = dt.datetime.combine(_latest_update(), dt.time(9), UTC) + dt.timedelta(days=3)
SUBSCRIBED = FIRST_RUN + dt.timedelta(hours=1)
MORNING = dt.datetime.combine(SUBSCRIBED.date() + dt.timedelta(days=1), dt.time(6, 30), UTC)


def _open(data_dir: Path, at: dt.datetime) -> Services:
    return Services.open(Settings(data_dir=data_dir, content_dir=CONTENT), lambda: at)


def _subscriber(chat: int, last_sent_at: dt.datetime) -> Subscription:
    return Subscription(
        chat, chat, dt.time(7, 30), "Europe/Paris", "en", "en", last_sent_at, last_sent_at
    )


def _digest_text(services: Services, chat: int, now: dt.datetime) -> str:
    sub = services.subscriptions.get(chat)
    assert sub is not None
    reply = services.digests.compose(sub, now)
    assert reply is not None
    return render_plain(reply)


def _is_quiet(text: str) -> bool:
    return "No new developments since" in text


def _subscribed(data_dir: Path) -> None:
    services = _open(data_dir, FIRST_RUN)
    services.subscriptions.put(_subscriber(1, SUBSCRIBED))
    services.close()


def test_a_new_subscriber_gets_the_short_quiet_note_not_the_store(tmp_path: Path) -> None:
    _subscribed(tmp_path / "data")
    services = _open(tmp_path / "data", MORNING)
    try:
        text = _digest_text(services, 1, MORNING)
    finally:
        services.close()
    assert _is_quiet(text)
    assert len(text) < 1500 and text.count("• ") <= 3


def test_rebuilding_facts_json_later_sends_nothing_new(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _subscribed(data_dir)
    (data_dir / FACTS_FILE).unlink()  # what the corruption message tells an operator to do
    services = _open(data_dir, MORNING - dt.timedelta(hours=1))
    try:
        assert _is_quiet(_digest_text(services, 1, MORNING))
    finally:
        services.close()


def test_a_fresh_data_directory_beside_the_old_users_sends_nothing_new(tmp_path: Path) -> None:
    _subscribed(tmp_path / "old")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    for name in (USERS_FILE, "users.journal"):
        if (tmp_path / "old" / name).exists():
            shutil.copy(tmp_path / "old" / name, fresh / name)
    services = _open(fresh, MORNING - dt.timedelta(minutes=5))
    try:
        assert _is_quiet(_digest_text(services, 1, MORNING))
    finally:
        services.close()


def test_reimporting_the_same_content_later_changes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _subscribed(data_dir)
    services = _open(data_dir, MORNING - dt.timedelta(hours=2))
    try:
        report = services.reload()
        assert not report.wrote
        assert _is_quiet(_digest_text(services, 1, MORNING))
    finally:
        services.close()


def test_a_reader_who_predates_the_content_gets_every_fact_once(tmp_path: Path) -> None:
    """The other side of the rule: news is still news for whoever has not had it."""
    data_dir = tmp_path / "data"
    services = _open(data_dir, FIRST_RUN)
    try:
        services.subscriptions.put(_subscriber(2, before_content()))
        text = _digest_text(services, 2, MORNING)
        assert not _is_quiet(text)
        assert text.count("• ") == len(services.library().facts)
    finally:
        services.close()


def test_news_is_dated_by_the_content_and_ordered_by_the_import_within_that_day() -> None:
    day = dt.date(2026, 12, 1)
    noon = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert news_instant(day, noon) == noon, "an import on the day keeps its moment"
    later = news_instant(day, noon + dt.timedelta(days=30))
    assert later.date() == day and later > noon, "a later re-import stays within the day"
    early = news_instant(day, noon - dt.timedelta(days=2))
    assert early == dt.datetime(2026, 12, 1, tzinfo=UTC), "dated ahead: news on its day"


def test_a_fact_dated_ahead_is_not_in_a_digest_before_its_day(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    latest = _latest_update()
    early = dt.datetime.combine(latest, dt.time(), UTC) - dt.timedelta(days=2)
    services = _open(data_dir, early)
    try:
        services.subscriptions.put(_subscriber(3, early - dt.timedelta(days=1)))
        before_its_day = _digest_text(services, 3, early + dt.timedelta(hours=8))
        on_its_day = _digest_text(services, 3, dt.datetime.combine(latest, dt.time(8), UTC))
    finally:
        services.close()
    assert before_its_day.count("• ") < on_its_day.count("• ")


def _descriptors_into(data_dir: Path) -> list[str]:
    """The files of ``data_dir`` this process still holds open (Linux's /proc)."""
    held = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = fd.readlink()
        except OSError:
            continue
        if target.is_relative_to(data_dir.resolve()):
            held.append(target.name)
    return held


def _corrupt_receipts(data_dir: Path) -> None:
    # Valid JSON, so the start-up check lets it through; a chat without its facts does not read.
    (data_dir / RECEIPTS_FILE).write_text(json.dumps({"chats": {"1": {"chat": 1}}}))


def test_a_store_that_fails_to_open_closes_the_ones_opened_before_and_frees_the_lock(
    tmp_path: Path,
) -> None:
    """receipts.json opens last: its failure leaves no store open and no lock held."""
    data_dir = tmp_path / "data"
    _open(data_dir, FIRST_RUN).close()
    _corrupt_receipts(data_dir)
    with pytest.raises(StoreCorrupted, match=r"receipts\.json.*moved aside"):
        _open(data_dir, FIRST_RUN)
    assert _descriptors_into(data_dir) == []
    assert [p.name for p in data_dir.glob("receipts.json.corrupt-*")] == [
        "receipts.json.corrupt-" + FIRST_RUN.strftime("%Y%m%dT%H%M%SZ")
    ]
    lock = DataDirLock(data_dir)
    lock.acquire()  # would raise DataDirLocked had the failed open kept it
    lock.release()
    services = _open(data_dir, FIRST_RUN)  # as the message says: start again, empty receipts
    try:
        assert services.receipts.lang(1) is None
    finally:
        services.close()
