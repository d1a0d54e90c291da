"""Digest composition and the sweep: once per subscriber and local date, whatever happens."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.compose.digest import compose_digest, quiet_digest
from bot.compose.render_text import render_plain
from bot.core.domain import Lang, Library, Reply, Subscription
from bot.digests.sweep import DigestService, Outcome
from bot.i18n.translator import translator
from bot.store.journal import load_tables
from bot.store.ledger import Ledger
from bot.store.subscriptions import SubscriptionStore
from bot.store.users import TABLE_KEYS, USERS_FILE, UserStore

UTC = dt.UTC
MORNING = dt.datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # 07:30 in Paris
BEFORE = MORNING - dt.timedelta(days=1)


def _library_with_change(library: Library) -> tuple[Library, str]:
    """The shipped facts as of yesterday, with one figure revised this morning."""
    fact = library.facts["stakes-microsoft-invested-over-13bn"]
    old = {
        k: dataclasses.replace(f, changed_at=BEFORE - dt.timedelta(days=30))
        for k, f in library.facts.items()
    }
    revised = dataclasses.replace(
        fact,
        figures=(dataclasses.replace(fact.figures[0], value=14e9),),
        previous_figures=fact.figures,
        changed_at=MORNING - dt.timedelta(hours=2),
        revision=2,
    )
    return dataclasses.replace(library, facts={**old, fact.id: revised}), fact.id


def test_digest_lists_changes_by_topic_with_what_was_revised(library: Library) -> None:
    changed, _ = _library_with_change(library)
    blocks = compose_digest(changed, BEFORE, MORNING, translator("fr"), MORNING.date())
    assert blocks is not None
    text = render_plain(Reply("fr", tuple(blocks)))
    assert text.startswith("Le point partnerbrief du 26 novembre 2026")
    assert "Participations" in text and "14 milliards de dollars" in text
    assert "Révisé : de 13 milliards de dollars à 14 milliards de dollars." in text
    assert "Sources" in text and "[1]" in text
    assert text.count("• ") == 1


def test_nothing_new_gives_none_or_a_short_note(library: Library) -> None:
    changed, _ = _library_with_change(library)
    assert compose_digest(changed, MORNING, MORNING, translator("en"), MORNING.date()) is None
    note = render_plain(
        Reply("en", tuple(quiet_digest(changed, MORNING.date(), translator("en"), MORNING.date())))
    )
    assert "No new developments since November 26, 2026" in note and "[1]" in note


def test_a_sweep_composes_each_distinct_digest_once(
    library: Library, stores: tuple[SubscriptionStore, Ledger]
) -> None:
    """Subscribers who share a language, a day and the same news share one composed digest;
    another language, another previous-digest date or reloaded content get their own."""
    subscriptions, ledger = stores
    news, _ = _library_with_change(library)
    quiet = dataclasses.replace(
        library,
        facts={
            k: dataclasses.replace(f, changed_at=BEFORE - dt.timedelta(days=30))
            for k, f in library.facts.items()
        },
    )
    current = [news]
    service = DigestService(lambda: current[0], subscriptions, ledger)
    composed: dict[tuple[object, ...], tuple[Library, Reply]] = {}

    def compose(chat: int, lang: Lang = "fr", last: dt.datetime = BEFORE) -> Reply:
        sub = Subscription(chat, chat, dt.time(7, 30), "Europe/Paris", lang, lang, last, last)
        reply = service.compose(sub, MORNING, composed)
        assert reply is not None
        return reply

    first = compose(1)
    assert compose(2) is first
    assert "14" in render_plain(first)
    english = compose(3, "en")
    assert english is not first and english.lang == "en"

    current[0] = quiet
    yesterday = compose(4)
    assert yesterday is not first, "reloaded content is composed again"
    assert "Rien de nouveau depuis le 25 novembre 2026" in render_plain(yesterday)
    assert compose(5, last=BEFORE + dt.timedelta(hours=1)) is yesterday, "same day, same note"
    today = compose(6, last=MORNING - dt.timedelta(hours=1))
    assert render_plain(today) != render_plain(yesterday), "the note names its own date"


def _quiet(library: Library) -> Library:
    """The shipped facts, none changed in the last 30 days."""
    old = BEFORE - dt.timedelta(days=30)
    facts = {k: dataclasses.replace(f, changed_at=old) for k, f in library.facts.items()}
    return dataclasses.replace(library, facts=facts)


def test_the_digest_is_dated_in_the_subscriber_s_own_time_zone(
    library: Library, stores: tuple[SubscriptionStore, Ledger]
) -> None:
    """Both dates of a quiet note, today's and the previous digest's, are the reader's own."""
    subscriptions, ledger = stores
    quiet = _quiet(library)
    service = DigestService(lambda: quiet, subscriptions, ledger)
    evening = dt.datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 21:00 on the 26th in Montréal
    previous = dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 21:00 on the 25th there
    sub = Subscription(1, 1, dt.time(21, 0), "America/Montreal", "fr", "fr", BEFORE, previous)
    reply = service.compose(sub, evening)
    assert reply is not None
    text = render_plain(reply)
    assert text.startswith("Le point partnerbrief du 26 novembre 2026")
    assert "Rien de nouveau depuis le 25 novembre 2026" in text


async def test_a_late_digest_keeps_the_day_it_was_due(
    library: Library, stores: tuple[SubscriptionStore, Ledger]
) -> None:
    """Caught up after midnight, the 23:30 digest of the 26th is still the 26th's."""
    subscriptions, ledger = stores
    subscriptions.put(
        Subscription(1, 1, dt.time(23, 30), "Europe/Paris", "fr", "fr", BEFORE, BEFORE)
    )
    service = DigestService(lambda: library, subscriptions, ledger)
    sender = RecordingSender()
    after_midnight = dt.datetime(2026, 11, 26, 23, 45, tzinfo=UTC)  # 00:45 on the 27th in Paris
    assert (await service.sweep(sender, after_midnight)).counts == {"sent": 1}
    [(_, text)] = sender.sent
    assert text.startswith("Le point partnerbrief du 26 novembre 2026")
    assert ledger.status(1, dt.date(2026, 11, 26)) == "sent"


async def test_after_a_late_digest_the_next_quiet_note_names_the_day_it_was_due(
    library: Library, stores: tuple[SubscriptionStore, Ledger]
) -> None:
    subscriptions, ledger = stores
    quiet = _quiet(library)
    subscriptions.put(
        Subscription(1, 1, dt.time(23, 30), "Europe/Paris", "fr", "fr", BEFORE, BEFORE)
    )
    service = DigestService(lambda: quiet, subscriptions, ledger)
    sender = RecordingSender()
    late = dt.datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # 01:00 on the 26th in Paris
    assert (await service.sweep(sender, late)).counts == {"sent": 1}
    evening = dt.datetime(2026, 11, 26, 22, 31, tzinfo=UTC)  # 23:31 on the 26th
    assert (await service.sweep(sender, evening)).counts == {"sent": 1}
    [(_, first), (_, second)] = sender.sent
    assert first.startswith("Le point partnerbrief du 25 novembre 2026")
    assert second.startswith("Le point partnerbrief du 26 novembre 2026")
    assert "Rien de nouveau depuis le 25 novembre 2026" in second


async def test_one_digest_that_fails_to_compose_stops_no_other(
    library: Library, stores: tuple[SubscriptionStore, Ledger], tmp_path: Path
) -> None:
    subscriptions, ledger = stores
    for chat in (1, 2, 3):
        _subscribe(subscriptions, chat)

    class Broken(DigestService):
        def compose(self, sub: Subscription, *args: Any, **kwargs: Any) -> Reply | None:
            if sub.chat_id == 1:
                raise RuntimeError("a store read failed")
            return super().compose(sub, *args, **kwargs)

    service = Broken(lambda: library, subscriptions, ledger, concurrency=1)
    sender = RecordingSender({3: "blocked"})
    report = await service.sweep(sender, MORNING + dt.timedelta(minutes=1))
    assert report.counts == {"failed": 1, "sent": 1, "blocked": 1}
    assert [chat for chat, _ in sender.sent] == [2]
    saved = load_tables(tmp_path / USERS_FILE, TABLE_KEYS)["subscriptions"]
    assert not saved["3"]["active"], "saved although another chat's digest raised"


class RecordingSender:
    """A Sender double: the protocol's whole surface, with scripted outcomes per chat."""

    def __init__(self, outcomes: dict[int, Outcome] | None = None) -> None:
        self.outcomes = outcomes or {}
        self.sent: list[tuple[int, str]] = []

    async def send(
        self,
        chat_id: int,
        reply: Reply,
        *,
        skip: int = 0,
        on_part: Callable[[int], None] | None = None,
    ) -> Outcome:
        outcome = self.outcomes.get(chat_id, "sent")
        if outcome == "sent":
            self.sent.append((chat_id, render_plain(reply)))
        return outcome


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[SubscriptionStore, Ledger]]:
    users = UserStore(tmp_path)
    ledger = Ledger(tmp_path, today=MORNING.date)
    yield SubscriptionStore(users.tables), ledger
    ledger.close()
    users.close()


def _subscribe(store: SubscriptionStore, chat: int, **kw: object) -> None:
    store.put(
        Subscription(chat, chat, dt.time(7, 30), "Europe/Paris", "fr", "fr", BEFORE, BEFORE, **kw)
    )  # type: ignore[arg-type]


async def test_each_due_subscriber_gets_one_digest_per_day(
    library: Library, stores: tuple[SubscriptionStore, Ledger]
) -> None:
    subs, ledger = stores
    changed, _ = _library_with_change(library)
    for chat in (1, 2, 3):
        _subscribe(subs, chat)
    service = DigestService(lambda: changed, subs, ledger)
    sender = RecordingSender()
    report = await service.sweep(sender, MORNING + dt.timedelta(minutes=1))
    assert report.counts == {"sent": 3}
    again = await service.sweep(sender, MORNING + dt.timedelta(minutes=2))
    assert again.counts == {} and len(sender.sent) == 3
    assert all("14 milliards" in text for _, text in sender.sent)


async def test_blocked_users_become_inactive_and_failures_are_retried(
    library: Library, stores: tuple[SubscriptionStore, Ledger]
) -> None:
    subs, ledger = stores
    for chat in (1, 2, 3):
        _subscribe(subs, chat)
    service = DigestService(lambda: library, subs, ledger)
    sender = RecordingSender({2: "blocked", 3: "failed"})
    report = await service.sweep(sender, MORNING + dt.timedelta(minutes=1))
    assert report.counts == {"sent": 1, "blocked": 1, "failed": 1}
    blocked = subs.get(2)
    assert blocked is not None and not blocked.active and blocked.at == dt.time(7, 30)
    sender.outcomes = {}
    retry = await service.sweep(sender, MORNING + dt.timedelta(minutes=2))
    assert retry.counts == {"sent": 1} and [c for c, _ in sender.sent] == [1, 3]


async def test_blocked_users_are_saved_inactive_in_one_write_at_the_end_of_the_sweep(
    library: Library, tmp_path: Path
) -> None:
    """The sweep saves the subscribers who blocked the bot together, in one journal write, and
    a user who came back during the sweep stays active."""
    users, ledger = UserStore(tmp_path), Ledger(tmp_path, today=MORNING.date)
    subs = SubscriptionStore(users.tables)
    for chat in (1, 2, 3, 4):
        _subscribe(subs, chat)
    writes: list[list[str]] = []
    put_many = users.tables.put_many

    def counting_put_many(table: str, docs: Any) -> None:
        writes.append(sorted(docs))
        put_many(table, docs)

    users.tables.put_many = counting_put_many  # type: ignore[method-assign]

    class BlockingSender(RecordingSender):
        async def send(self, chat_id: int, reply: Reply, **kwargs: Any) -> Outcome:
            if chat_id == 4:  # chat 2 unblocks the bot and sends /start meanwhile
                subs.set_active(2, True)
            return "blocked" if chat_id in (1, 2, 3) else "sent"

    service = DigestService(lambda: library, subs, ledger, concurrency=1)
    report = await service.sweep(BlockingSender(), MORNING + dt.timedelta(minutes=1))
    assert report.counts == {"blocked": 3, "sent": 1}
    assert writes == [["2"], ["1", "2", "3"]], "the /start's own write, then one for the sweep"
    ledger.close()
    users.close()

    reopened = UserStore(tmp_path)
    saved = {s.chat_id: s.active for s in SubscriptionStore(reopened.tables).all()}
    reopened.close()
    assert saved == {1: False, 2: True, 3: False, 4: True}


async def test_after_downtime_late_within_the_window_else_skipped(
    library: Library, stores: tuple[SubscriptionStore, Ledger]
) -> None:
    subs, ledger = stores
    _subscribe(subs, 1)
    service = DigestService(lambda: library, subs, ledger, catch_up=dt.timedelta(hours=6))
    sender = RecordingSender()
    assert (await service.sweep(sender, MORNING + dt.timedelta(hours=7))).counts == {"skipped": 1}
    next_day = MORNING + dt.timedelta(days=1, hours=5)
    assert (await service.sweep(sender, next_day)).counts == {"sent": 1}


async def test_quiet_days_send_a_note_unless_the_subscriber_wants_silence(
    library: Library, stores: tuple[SubscriptionStore, Ledger]
) -> None:
    subs, ledger = stores
    quiet = {
        k: dataclasses.replace(f, changed_at=BEFORE - dt.timedelta(days=9))
        for k, f in library.facts.items()
    }
    unchanged = dataclasses.replace(library, facts=quiet)
    _subscribe(subs, 1)
    _subscribe(subs, 2, skip_empty=True)
    sender = RecordingSender()
    report = await DigestService(lambda: unchanged, subs, ledger).sweep(
        sender, MORNING + dt.timedelta(minutes=1)
    )
    assert report.counts == {"sent": 1, "empty": 1}
    assert "Rien de nouveau depuis le 25 novembre 2026" in sender.sent[0][1]
