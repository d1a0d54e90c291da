"""The PostgreSQL backend at 1,000,000 subscribers: /subscribe and /lang latency, and start-up.

    python -m bench.pg_store [--subscribers 1000000] [--writes 2000] [--url URL]

Without ``--url`` a throw-away server is started (initdb in a temporary directory, as the
tests do). The users namespace gets ``--subscribers`` users and as many subscriptions, loaded
with COPY. Figures:

- start-up: opening the backend (connect, migrate) and loading the users namespace into
  memory (users and subscriptions), as Services.open does; first as it was before (a
  client-side cursor, json.loads, the collector on while the stores build), then as now;
- the handler's latency: what a /subscribe (the flow's reply and its store write) and a /lang
  (the store write) cost the caller, who never waits for the database;
- commit latency: from the write to its commit by the writer, one write at a time;
- replica lag: from a /lang on one backend to its value in a second backend's UserStore
  (another "replica" on the same database, applying changes on its own event loop), and
  what the catch-up before each update (``PgBackend.fresh``) costs there.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import platform
import statistics
import threading
import time
from collections.abc import Callable, Mapping
from typing import cast

import psycopg

from bot.core.clock import system_clock
from bot.digests.subscribing import Subscribing
from bot.i18n.translator import translator
from bot.store.bulk import paused_collector
from bot.store.journal import Doc
from bot.store.pg.backend import PgBackend, PgTables
from bot.store.subscriptions import SubscriptionStore
from bot.store.tables import Backend
from bot.store.users import TABLE_KEYS, USERS, UserStore
from tests.support.postgres import PostgresServer, server_binaries

ZONES = ("Europe/Paris", "America/Montreal", "Europe/Brussels", "Africa/Abidjan")


def _bulk_load(url: str, count: int) -> float:
    started = time.perf_counter()
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).isoformat()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY documents (namespace, tbl, key, doc) FROM STDIN") as copy:
            for chat in range(1, count + 1):
                lang = "fr" if chat % 2 else "en"
                copy.write_row(
                    ("users", "users", str(chat), json.dumps({"user_id": chat, "lang": lang}))
                )
                sub = {
                    "chat_id": chat,
                    "user_id": chat,
                    "at": f"{chat % 24:02d}:{(chat * 7) % 60:02d}",
                    "zone": ZONES[chat % len(ZONES)],
                    "lang": lang,
                    "locale": lang,
                    "since": since,
                    "last_sent_at": since,
                    "weekdays_only": False,
                    "skip_empty": False,
                    "paused": False,
                    "active": True,
                    "topics": None,
                }
                copy.write_row(("users", "subscriptions", str(chat), json.dumps(sub)))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE documents")
    return time.perf_counter() - started


def _ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def _pcts(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {ordered[-1]:.3f} ms"


class _Loaded:
    """Stands for a backend whose users namespace is already in memory (the old start-up)."""

    kind = "postgresql"

    def __init__(self, tables: PgTables) -> None:
        self._tables = tables

    def open_tables(self, name: str, keys: object, **_: object) -> PgTables:
        return self._tables


def _startup_before(url: str) -> tuple[float, float, int]:
    """Start-up as it was: a client-side cursor holding the whole result, json.loads per
    document, and the collector on while the stores build their views."""
    started = time.perf_counter()
    loaded: dict[str, dict[str, Doc]] = {name: {} for name in TABLE_KEYS}
    gc.disable()
    try:
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT tbl, key, doc::text FROM documents WHERE namespace = %s", (USERS,))
            while batch := cur.fetchmany(50_000):
                for tbl, key, text in batch:
                    loaded[tbl][key] = json.loads(text)
    finally:
        gc.enable()
    loading = time.perf_counter() - started
    backend = PgBackend(url, follow=False)
    tables = PgTables(backend, USERS, loaded, None)
    users = UserStore(cast(Backend, _Loaded(tables)))
    subs = SubscriptionStore(users.tables)
    total = time.perf_counter() - started
    count = len(subs.all())
    backend.close()
    return total, loading, count


def _startup_now(url: str) -> tuple[PgBackend, UserStore, SubscriptionStore, float, float]:
    """Start-up as Services.open and post_init do it."""
    started = time.perf_counter()
    with paused_collector():
        backend = PgBackend(url)
        connected = time.perf_counter() - started
        users = UserStore(backend)
        subs = SubscriptionStore(users.tables)
    gc.freeze()
    return backend, users, subs, time.perf_counter() - started, connected


def _replica_lag(
    url: str, writer: UserStore, subscribers: int, samples: int
) -> tuple[list[float], list[float]]:
    """From a /lang on replica A to its value in replica B's UserStore, applied on B's own
    event loop as the bot does (B's follower fetches, the loop applies)."""
    replica = PgBackend(url)
    loop = asyncio.new_event_loop()
    owner = threading.Thread(target=loop.run_forever, name="replica-b", daemon=True)
    owner.start()
    seen = threading.Event()
    wanted: list[tuple[str, str]] = []
    at: list[float] = []

    def watch(changes: Mapping[str, Mapping[str, Doc | None]]) -> None:
        doc = changes.get("users", {}).get(wanted[-1][0]) if wanted else None
        if doc is not None and doc.get("lang") == wanted[-1][1]:
            at.append(time.perf_counter())
            seen.set()

    def open_b() -> UserStore:
        with paused_collector():
            return UserStore(replica)

    users_b = asyncio.run_coroutine_threadsafe(asyncio.to_thread(open_b), loop).result()
    users_b.tables.observe(watch)
    replica.on_remote(lambda: loop.call_soon_threadsafe(replica.apply_remote))
    lags = []
    for i in range(samples):
        chat = 1 + (i * 15485863) % subscribers
        lang = "en" if users_b.get_lang(chat) == "fr" else "fr"
        seen.clear()
        wanted.append((str(chat), lang))
        started = time.perf_counter()
        writer.set_lang(chat, lang)
        assert seen.wait(30), "replica B saw the write"
        lags.append((at[-1] - started) * 1000)
        time.sleep(0.02)  # one /lang at a time, as a user's next message would come

    async def fresh() -> float:
        started = time.perf_counter()
        assert await replica.fresh(within=5)
        return (time.perf_counter() - started) * 1000

    catch_up = [asyncio.run_coroutine_threadsafe(fresh(), loop).result() for _ in range(samples)]
    replica.on_remote(None)
    loop.call_soon_threadsafe(loop.stop)
    owner.join(10)
    replica.close()
    return lags, catch_up


def run(url: str, subscribers: int, writes: int) -> None:
    PgBackend(url, follow=False).close()  # the schema
    print(
        f"bulk load (COPY) of {subscribers:,} users and subscriptions: "
        f"{_bulk_load(url, subscribers):.1f} s"
    )
    cpu = time.process_time()
    total, loading, count = _startup_before(url)
    print(
        f"start-up as before: {total:.1f} s ({loading:.1f} s loading, the rest building the "
        f"stores' views of {count:,} subscriptions; {time.process_time() - cpu:.1f} s CPU)"
    )
    gc.collect()
    cpu = time.process_time()
    backend, users, subs, total, connected = _startup_now(url)
    print(
        f"start-up now: {total:.1f} s ({connected:.2f} s connect and migrate, "
        f"{total - connected:.1f} s loading {len(subs.all()):,} subscriptions "
        f"and {users.count():,} users; {time.process_time() - cpu:.1f} s CPU)"
    )
    flow = Subscribing(subs, system_clock)
    tr = {"fr": translator("fr"), "en": translator("en")}
    sub_ms, lang_ms = [], []
    for i in range(writes):
        chat = 1 + (i * 7919) % subscribers
        lang = "fr" if i % 2 else "en"
        sub_ms.append(
            _ms(lambda c=chat, t=tr[lang]: flow.subscribe(t, c, c, "08:15 Europe/Paris"))
        )
        lang_ms.append(_ms(lambda c=chat, lg=lang: users.set_lang(c, lg)))
    print(f"/subscribe, the handler's wait ({writes} calls): {_pcts(sub_ms)}")
    print(f"/lang, the handler's wait ({writes} calls): {_pcts(lang_ms)}")
    assert backend.settle(timeout=120)
    commit_ms = []
    for i in range(writes // 4):
        chat = 1 + (i * 104729) % subscribers
        commit_ms.append(_ms(lambda c=chat: (users.set_lang(c, "fr"), backend.settle())))
    print(f"/lang, write to commit ({writes // 4} one at a time): {_pcts(commit_ms)}")
    lags, catch_up = _replica_lag(url, users, subscribers, max(50, writes // 10))
    print(f"/lang on replica A, seen by replica B ({len(lags)} one at a time): {_pcts(lags)}")
    print(f"an update's catch-up on replica B (fresh, {len(catch_up)} calls): {_pcts(catch_up)}")
    started = time.perf_counter()
    users.close()
    backend.close()
    print(f"close: {time.perf_counter() - started:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, psycopg {psycopg.__version__}"
    )
    if args.url:
        run(args.url, args.subscribers, args.writes)
        return
    bindir = server_binaries()
    if bindir is None:
        raise SystemExit("PostgreSQL's server binaries were not found: apt-get install postgresql")
    server = PostgresServer(bindir)
    server.start(durable=True)  # fsync on: commit latency as a real server's
    try:
        run(server.new_database(), args.subscribers, args.writes)
    finally:
        server.close()


if __name__ == "__main__":
    main()
