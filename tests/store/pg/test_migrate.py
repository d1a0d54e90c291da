"""Migrations against a real server: once, under a lock, all or nothing, never backwards."""

from __future__ import annotations

import threading

import psycopg
import pytest

from bot.store.pg.backend import DatabaseUnavailable, PgBackend
from bot.store.pg.migrate import Migration, MigrationFailed, SchemaTooNew, bundled_migrations
from tests.support.postgres import PostgresServer


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [int(r[0]) for r in rows]


def test_the_bundled_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in bundled_migrations()]
    assert versions == list(range(1, len(versions) + 1)) and versions


def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    """Four backends open at once: one applies the migrations, the others wait and find none."""
    opened: list[PgBackend] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(PgBackend(database_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for backend in opened:
        backend.close()
    assert not errors and len(opened) == 4
    assert _versions(database_url) == [m.version for m in bundled_migrations()]


def test_a_migration_that_fails_halfway_changes_nothing(database_url: str) -> None:
    PgBackend(database_url).close()
    shipped = bundled_migrations()
    following = shipped[-1].version + 1
    broken = Migration(following, "broken", "CREATE TABLE half_done (x int);\nSELECT 1 / 0;")
    with pytest.raises(MigrationFailed, match=f"{following:04d}_broken failed, nothing was chan"):
        PgBackend(database_url, migrations=(*bundled_migrations(), broken))
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT to_regclass('half_done')").fetchone()
    assert row == (None,), "the DDL before the error was rolled back"
    assert _versions(database_url) == [m.version for m in shipped]


def test_a_schema_newer_than_the_code_is_refused(database_url: str) -> None:
    PgBackend(database_url).close()
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')")
    with pytest.raises(SchemaTooNew, match="version 99, newer than this version"):
        PgBackend(database_url)


def test_a_database_that_is_down_at_start_up_is_a_clear_error(
    own_postgres: PostgresServer,
) -> None:
    own_postgres.stop()
    with pytest.raises(DatabaseUnavailable, match=r"cannot reach PostgreSQL at partnerbrief@"):
        PgBackend(own_postgres.url(), connect_timeout=2)
