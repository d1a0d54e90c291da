"""The PostgreSQL backend at 1,000,000 subscribers: /subscribe and /lang latency, and start-up.

    python -m bench.pg_store [--subscribers 1000000] [--writes 2000] [--url URL]

Without ``--url`` a throw-away server is started (initdb in a temporary directory, as the
tests do). The users namespace gets ``--subscribers`` users and as many subscriptions, loaded
with COPY. Figures:

- start-up: opening the backend (connect, migrate) and loading the users namespace into
  memory (users and subscriptions), as Services.open does;
- the handler's latency: what a /subscribe (the flow's reply and its store write) and a /lang
  (the store write) cost the caller, who never waits for the database;
- commit latency: from the write to its commit by the writer, one write at a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import time
from collections.abc import Callable

import psycopg

from bot.core.clock import system_clock
from bot.digests.subscribing import Subscribing
from bot.i18n.translator import translator
from bot.store.pg.backend import PgBackend
from bot.store.subscriptions import SubscriptionStore
from bot.store.users import UserStore
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


def run(url: str, subscribers: int, writes: int) -> None:
    PgBackend(url).close()  # the schema
    print(
        f"bulk load (COPY) of {subscribers:,} users and subscriptions: "
        f"{_bulk_load(url, subscribers):.1f} s"
    )
    started = time.perf_counter()
    backend = PgBackend(url)
    connected = time.perf_counter() - started
    users = UserStore(backend)
    subs = SubscriptionStore(users.tables)
    total = time.perf_counter() - started
    print(
        f"start-up: {total:.1f} s ({connected:.2f} s connect and migrate, "
        f"{total - connected:.1f} s loading {len(subs.all()):,} subscriptions "
        f"and {users.count():,} users)"
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
