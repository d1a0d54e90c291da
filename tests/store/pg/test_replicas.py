"""Two backends on one database, as two replicas: each sees the other's writes and deletes,
in its tables and in the stores' views, with the last committed write winning per key, across
a restart of the database and after the changes it missed were pruned."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Iterator

import psycopg
import pytest

from bot.core.domain import Subscription
from bot.store.broadcasts import Broadcast, BroadcastStore
from bot.store.pg.backend import PgBackend
from bot.store.subscriptions import SubscriptionStore
from bot.store.users import UserStore
from tests.support.postgres import PostgresServer

KEYS = {"people": lambda doc: str(doc["id"])}


@pytest.fixture
def pair(database_url: str) -> Iterator[tuple[PgBackend, PgBackend]]:
    a, b = PgBackend(database_url), PgBackend(database_url)
    yield a, b
    a.close()
    b.close()


def _settled(*backends: PgBackend) -> None:
    for backend in backends:
        assert backend.settle(timeout=30)
    for backend in backends:
        assert backend.catch_up(timeout=30)


def _sub(chat: int, lang: str = "fr") -> Subscription:
    since = dt.datetime(2026, 3, 1, 7, 0, tzinfo=dt.UTC)
    return Subscription(chat, chat, dt.time(8, 15), "Europe/Paris", "fr", lang, since, since)


def test_a_language_set_on_one_replica_is_seen_by_the_other(
    pair: tuple[PgBackend, PgBackend],
) -> None:
    a, b = pair
    users_a, users_b = UserStore(a), UserStore(b)
    users_a.set_lang(5, "fr")
    _settled(a, b)
    assert users_b.get_lang(5) == "fr" and users_b.count() == 1
    users_b.set_lang(5, "en")
    _settled(b, a)
    assert users_a.get_lang(5) == "en"


def test_subscriptions_and_their_deletion_reach_the_other_replica(
    pair: tuple[PgBackend, PgBackend],
) -> None:
    a, b = pair
    subs_a = SubscriptionStore(UserStore(a).tables)
    subs_b_tables = UserStore(b).tables
    subs_b = SubscriptionStore(subs_b_tables)
    subs_a.put(_sub(10))
    subs_a.put(_sub(11))
    _settled(a, b)
    assert [s.chat_id for s in sorted(subs_b.all(), key=lambda s: s.chat_id)] == [10, 11]
    assert subs_a.delete(10)
    _settled(a, b)
    got = subs_b.get(11)
    assert subs_b.get(10) is None and got is not None and got.locale == "fr"
    assert "10" not in subs_b_tables.table("subscriptions")


def test_a_pending_broadcast_made_on_one_replica_can_be_confirmed_on_the_other(
    pair: tuple[PgBackend, PgBackend],
) -> None:
    a, b = pair
    on_a, on_b = BroadcastStore(UserStore(a).tables), BroadcastStore(UserStore(b).tables)
    made = Broadcast("b1", 1, 1, "hello", dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    on_a.put(made)
    _settled(a, b)
    assert on_b.get("b1") == made and on_b.with_state("pending") == [made]
    on_b.finish(made, "cancelled")
    _settled(b, a)
    assert on_a.with_state("pending") == []


def test_a_deleted_document_is_gone_on_the_other_replica(
    pair: tuple[PgBackend, PgBackend],
) -> None:
    a, b = pair
    ta, tb = a.open_tables("t", KEYS), b.open_tables("t", KEYS)
    ta.put("people", "1", {"id": 1})
    ta.put("people", "2", {"id": 2})
    _settled(a, b)
    assert dict(tb.table("people")) == {"1": {"id": 1}, "2": {"id": 2}}
    ta.put("people", "1", None)
    _settled(a, b)
    assert dict(tb.table("people")) == {"2": {"id": 2}}


def test_concurrent_writes_to_one_key_end_alike_everywhere(
    database_url: str, pair: tuple[PgBackend, PgBackend]
) -> None:
    """Both replicas write the same keys in turn while applying each other's changes at
    random moments: in the end both hold what the database holds, the last commit per key."""
    a, b = pair
    ta, tb = a.open_tables("t", KEYS), b.open_tables("t", KEYS)
    rng = random.Random(15)
    for i in range(400):
        key = str(rng.randrange(5))
        ta.put("people", key, {"id": key, "v": i, "by": "a"})
        tb.put("people", key, {"id": key, "v": i, "by": "b"})
        if rng.random() < 0.3:
            time.sleep(0.002)
            (a if rng.random() < 0.5 else b).apply_remote()
    _settled(a, b)
    _settled(a, b)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT key, doc FROM documents WHERE namespace = 't' ORDER BY key"
        ).fetchall()
    stored = {str(k): d for k, d in rows}
    assert len(stored) == 5
    assert dict(ta.table("people")) == stored
    assert dict(tb.table("people")) == stored


def test_a_replica_opened_later_starts_from_what_is_committed(
    pair: tuple[PgBackend, PgBackend], database_url: str
) -> None:
    a, _ = pair
    UserStore(a).set_lang(3, "fr")
    assert a.settle()
    late = PgBackend(database_url)
    users = UserStore(late)
    assert users.get_lang(3) == "fr"
    assert late.catch_up() and users.get_lang(3) == "fr", "the load is not applied twice"
    late.close()


def test_the_follower_survives_a_database_restart_and_catches_up(
    own_postgres: PostgresServer,
) -> None:
    url = own_postgres.new_database()
    a, b = PgBackend(url), PgBackend(url)
    users_a, users_b = UserStore(a), UserStore(b)
    users_a.set_lang(1, "fr")
    _settled(a, b)
    own_postgres.stop("fast")
    users_a.set_lang(1, "en")  # waits in A's queue while the database is down
    users_a.set_lang(2, "fr")
    own_postgres.start()
    _settled(a, b)
    assert (users_b.get_lang(1), users_b.get_lang(2)) == ("en", "fr")
    deadline = time.monotonic() + 30
    while not b.following:
        assert time.monotonic() < deadline, "B listens again"
        time.sleep(0.05)
    users_a.set_lang(3, "en")
    _settled(a, b)
    assert users_b.get_lang(3) == "en", "notified after the restart"
    a.close()
    b.close()


def test_a_replica_that_missed_pruned_changes_reloads_what_it_holds(
    pair: tuple[PgBackend, PgBackend], database_url: str
) -> None:
    a, b = pair
    users_a, users_b = UserStore(a), UserStore(b)
    users_a.set_lang(1, "fr")
    users_a.set_lang(2, "fr")
    _settled(a, b)
    # B stops following (as if cut off for longer than changes are kept) …
    b_follower = b._follower
    assert b_follower is not None
    b._call(b_follower.stop())
    users_a.set_lang(1, "en")
    users_a.set_lang(4, "en")
    users_a.tables.put("users", "2", None)
    assert a.settle()
    time.sleep(0.05)
    assert a.prune_changes(0) > b.seen
    # … then catches up: what it missed is gone from the log, so it reloads.
    b._call(b_follower.fetch())
    b.apply_remote()
    assert (users_b.get_lang(1), users_b.get_lang(2), users_b.get_lang(4)) == ("en", None, "en")
    assert users_b.count() == 2


async def test_fresh_applies_a_commit_whose_notification_has_not_come(database_url: str) -> None:
    """Before an update is handled, one query brings in whatever was committed before it,
    announced or not (here a writer that has not notified yet)."""
    backend = PgBackend(database_url, poll=3600)
    users = UserStore(backend)
    deadline = time.monotonic() + 30
    while not backend.following:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert await backend.fresh(), "the fetch that follows connecting is done"
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO documents (namespace, tbl, key, doc) "
            "VALUES ('users', 'users', '9', '{\"user_id\": 9, \"lang\": \"fr\"}')"
        )
        conn.execute(
            "INSERT INTO changes (seq, namespace, tbl, key, origin) "
            "VALUES (nextval('change_seq'), 'users', 'users', '9', 'elsewhere')"
        )
    await asyncio.sleep(0.2)
    backend.apply_remote()
    assert users.get_lang(9) is None, "not announced, not fetched yet"
    assert await backend.fresh()
    assert users.get_lang(9) == "fr"
    backend.close()
