"""Digests filtered by topic: the store keeps the choice, the sweep composes only those."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from bot.compose.digest import compose_digest
from bot.core.domain import Library, Subscription
from bot.digests.sweep import DigestService
from bot.i18n.translator import translator
from bot.store.ledger import Ledger
from bot.store.subscriptions import SubscriptionStore
from bot.store.users import UserStore
from tests.digests.test_digests import (
    BEFORE,
    MORNING,
    RecordingSender,
    _library_with_change,
    _subscribe,
)

NOW = MORNING + dt.timedelta(minutes=1)


def _sub(chat: int, **kw: object) -> Subscription:
    return Subscription(
        chat, chat, dt.time(7, 30), "Europe/Paris", "fr", "fr", BEFORE, BEFORE, **kw
    )  # type: ignore[arg-type]


def test_store_round_trip_with_and_without_topics(tmp_path: Path) -> None:
    users = UserStore(tmp_path)
    store = SubscriptionStore(users.tables)
    store.put(_sub(1))
    store.put(_sub(2, topics=("ipo", "revenue")))
    users.close()

    reopened = UserStore(tmp_path)
    again = SubscriptionStore(reopened.tables)
    first, second = again.get(1), again.get(2)
    assert first is not None and first.topics is None and first.covers("stakes")
    assert second is not None and second.topics == ("ipo", "revenue")
    assert second.covers("ipo") and not second.covers("stakes")
    reopened.close()


def test_old_documents_without_the_field_mean_every_topic(tmp_path: Path) -> None:
    users = UserStore(tmp_path)
    store = SubscriptionStore(users.tables)
    store.put(_sub(3, topics=("ipo",)))
    # What an older release wrote: no "topics" key at all.
    doc = {
        "chat_id": 4,
        "user_id": 4,
        "at": "07:30",
        "zone": "Europe/Paris",
        "lang": "fr",
        "locale": "fr",
        "since": BEFORE.isoformat(),
        "last_sent_at": BEFORE.isoformat(),
    }
    users.tables.put("subscriptions", "4", doc)
    users.close()
    reopened = UserStore(tmp_path)
    old = SubscriptionStore(reopened.tables).get(4)
    assert old is not None and old.topics is None
    assert all(old.covers(t) for t in ("stakes", "revenue", "infrastructure", "ipo", "context"))
    reopened.close()
    assert json.dumps(doc)  # stays a plain document


def test_compose_digest_keeps_only_the_chosen_topics(library: Library) -> None:
    changed, fact_id = _library_with_change(library)
    assert changed.facts[fact_id].topic == "stakes"
    tr = translator("en")
    kept = compose_digest(changed, BEFORE, MORNING, tr, MORNING.date(), ("stakes",))
    assert kept is not None
    assert compose_digest(changed, BEFORE, MORNING, tr, MORNING.date(), ("ipo",)) is None


async def test_the_sweep_composes_only_chosen_topics_and_quiet_rule_otherwise(
    library: Library, tmp_path: Path
) -> None:
    changed, _ = _library_with_change(library)  # news in "stakes" only
    users = UserStore(tmp_path)
    subs = SubscriptionStore(users.tables)
    ledger = Ledger(tmp_path, today=MORNING.date)
    try:
        _subscribe(subs, 1)  # every topic
        _subscribe(subs, 2, topics=("stakes", "ipo"))
        _subscribe(subs, 3, topics=("ipo",))  # nothing new there: the quiet note
        _subscribe(subs, 4, topics=("ipo",), skip_empty=True)  # nothing new: silence
        sender = RecordingSender()
        report = await DigestService(lambda: changed, subs, ledger).sweep(sender, NOW)
        assert report.counts == {"sent": 3, "empty": 1}
        texts = dict(sender.sent)
        assert "14 milliards" in texts[1] and "14 milliards" in texts[2]
        assert "14 milliards" not in texts[3] and "Rien de nouveau" in texts[3]
        assert 4 not in texts
    finally:
        ledger.close()
        users.close()


async def test_a_sweep_does_not_share_a_digest_across_topic_choices(
    library: Library, tmp_path: Path
) -> None:
    changed, _ = _library_with_change(library)
    ipo_fact = next(f for f in changed.facts.values() if f.topic == "ipo")
    news = dataclasses.replace(
        changed,
        facts={
            **changed.facts,
            ipo_fact.id: dataclasses.replace(ipo_fact, changed_at=MORNING - dt.timedelta(hours=1)),
        },
    )
    users = UserStore(tmp_path)
    subs = SubscriptionStore(users.tables)
    ledger = Ledger(tmp_path, today=MORNING.date)
    try:
        _subscribe(subs, 1, topics=("ipo",))
        _subscribe(subs, 2, topics=("stakes",))
        sender = RecordingSender()
        await DigestService(lambda: news, subs, ledger).sweep(sender, NOW)
        texts = dict(sender.sent)
        assert "14 milliards" not in texts[1] and "14 milliards" in texts[2]
        assert texts[1] != texts[2]
    finally:
        ledger.close()
        users.close()
