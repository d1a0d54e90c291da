"""``store migrate`` moves a data directory into PostgreSQL, idempotently; the database's
failures at start-up are clear errors with exit codes of their own."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg

from bot.cli import EXIT_DATABASE, EXIT_SCHEMA_NEWER
from bot.config import Settings
from bot.console import CONSOLE_USER_ID
from bot.core.domain import Library, Subscription
from bot.store.facts import FactStore
from bot.store.ledger import Ledger
from bot.store.pg.backend import PgBackend
from bot.store.subscriptions import SubscriptionStore
from bot.store.users import UserStore
from tests.conftest import CONTENT
from tests.test_cli import run

AT = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)


def _embedded_bot_data(data: Path, library: Library) -> None:
    facts = FactStore(data)
    facts.import_library(library, "d1", AT)
    facts.close()
    users = UserStore(data)
    users.set_lang(1, "fr")
    users.set_lang(2, "en")
    SubscriptionStore(users.tables).put(
        Subscription(1, 1, dt.time(7, 30), "Europe/Paris", "fr", "fr", AT, AT)
    )
    users.close()
    ledger = Ledger(data, today=AT.date)
    ledger.record(1, AT.date(), "sent", AT)
    # No close: the entry is only in the journal, as after a crash; it must be copied too.


def test_store_migrate_copies_everything_once_and_reports_counts(
    tmp_path: Path, library: Library, database_url: str
) -> None:
    data = tmp_path / "data"
    _embedded_bot_data(data, library)
    env = {"BOT_DATA_DIR": str(data), "BOT_CONTENT_DIR": str(CONTENT)}
    first = run("store", "migrate", "--from", "tinydb", "--to", database_url, env=env)
    assert first.returncode == 0, first.stderr
    assert "users/users: 2 copied, 0 already there" in first.stdout
    assert "users/subscriptions: 1 copied" in first.stdout
    assert "ledger/deliveries: 1 copied" in first.stdout
    assert f"facts/facts: {len(library.facts)} copied" in first.stdout
    again = run("store", "migrate", "--from", "tinydb", "--to", database_url, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1].startswith("0 documents copied, ")
    backend = PgBackend(database_url)
    users = UserStore(backend)
    assert (users.get_lang(1), users.get_lang(2)) == ("fr", "en")
    assert SubscriptionStore(users.tables).get(1) is not None
    assert Ledger(backend, today=AT.date).status(1, AT.date()) == "sent"
    assert FactStore(backend).library().facts.keys() == library.facts.keys()
    backend.close()


def test_a_database_that_cannot_be_reached_is_exit_code_7(tmp_path: Path) -> None:
    env = {
        "BOT_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "postgresql://bot:s3cret@127.0.0.1:9/brief?connect_timeout=2",
    }
    result = run("console", env=env)
    assert result.returncode == EXIT_DATABASE == 7, result.stderr
    assert "cannot reach PostgreSQL at bot@127.0.0.1:9/brief" in result.stderr
    assert "s3cret" not in result.stderr and "Traceback" not in result.stderr


def test_a_schema_newer_than_the_bot_is_exit_code_8(tmp_path: Path, database_url: str) -> None:
    PgBackend(database_url).close()
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')")
    result = run("console", env={"BOT_DATA_DIR": str(tmp_path), "DATABASE_URL": database_url})
    assert result.returncode == EXIT_SCHEMA_NEWER == 8, result.stderr
    assert "schema is at version 99" in result.stderr and "Traceback" not in result.stderr


def test_the_console_runs_on_postgresql_and_keeps_the_language(
    tmp_path: Path, database_url: str
) -> None:
    env = {"BOT_DATA_DIR": str(tmp_path), "DATABASE_URL": database_url}
    result = run("console", env=env, stdin="/lang fr\n")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "users.json").exists(), "nothing went to the data directory"
    backend = PgBackend(database_url)
    assert UserStore(backend).get_lang(CONSOLE_USER_ID) == "fr"
    backend.close()
    assert Settings(database_url=database_url).__repr__().count(database_url) == 0


def test_content_load_imports_into_postgresql(tmp_path: Path, database_url: str) -> None:
    env = {"BOT_DATA_DIR": str(tmp_path), "DATABASE_URL": database_url}
    first = run("content", "load", env=env)
    assert first.returncode == 0, first.stderr
    assert " added, 0 changed, 0 removed, 0 unchanged" in first.stdout.splitlines()[0]
    again = run("content", "load", env=env)
    assert again.stdout.startswith("0 added, 0 changed, 0 removed, "), again.stdout
    assert not (tmp_path / "facts.json").exists()
