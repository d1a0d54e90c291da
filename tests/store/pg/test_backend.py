"""The PostgreSQL backend against a real server that goes away: reads go on from memory,
writes wait in order and none is lost, and what a closing process could not write is written
by the next one."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from bot.store.pg.backend import SPILL_FILE, DatabaseUnavailable, PgBackend, describe
from bot.store.users import UserStore
from tests.support.postgres import PostgresServer

KEYS = {"people": lambda doc: str(doc["id"])}


def _stored(url: str, namespace: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT key, doc FROM documents WHERE namespace = %s ORDER BY key", (namespace,)
        ).fetchall()
    return {str(k): d for k, d in rows}


def _wait_until(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_url_is_described_without_its_password() -> None:
    assert describe("postgresql://bot:s3cret@db.example:6543/brief") == (
        "bot@db.example:6543/brief"
    )
    with pytest.raises(DatabaseUnavailable) as caught:
        PgBackend("postgresql://bot:s3cret@127.0.0.1:9/brief", connect_timeout=1)
    assert "s3cret" not in str(caught.value) and "127.0.0.1:9/brief" in str(caught.value)


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_writes_made_while_the_database_is_away_are_written_when_it_is_back(
    own_postgres: PostgresServer, how: str
) -> None:
    url = own_postgres.new_database()
    backend = PgBackend(url)
    users = UserStore(backend)
    users.set_lang(1, "fr")
    assert backend.settle() and backend.ready
    if how == "kill":
        own_postgres.kill()
    else:
        own_postgres.stop("immediate")
    for user in range(2, 52):
        users.set_lang(user, "en")
    users.set_lang(1, "en")
    assert users.get_lang(1) == "en" and users.count() == 51, "reads go on from memory"
    _wait_until(lambda: not backend.ready)
    assert not backend.settle(timeout=0.5), "nothing can be committed meanwhile"
    own_postgres.start()
    assert backend.settle(timeout=30), "the writer retried and caught up"
    assert backend.ready
    stored = _stored(url, "users")
    assert len(stored) == 51 and stored["1"] == {"user_id": 1, "lang": "en"}, "last write wins"
    users.close()
    backend.close()


def test_what_could_not_be_written_before_exit_is_written_at_the_next_start(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    url = own_postgres.new_database()
    backend = PgBackend(url, spill_dir=tmp_path, settle_timeout=1)
    users = UserStore(backend)
    own_postgres.stop("immediate")
    users.set_lang(7, "fr")
    users.close()
    backend.close(timeout=1)
    assert (tmp_path / SPILL_FILE).exists()
    own_postgres.start()
    reopened = PgBackend(url, spill_dir=tmp_path)
    assert not (tmp_path / SPILL_FILE).exists()
    assert UserStore(reopened).get_lang(7) == "fr"
    reopened.close()


def test_a_removed_set_is_gone_and_names_list_what_is_left(database_url: str) -> None:
    backend = PgBackend(database_url)
    for name in ("broadcast-a", "broadcast-b", "ledger"):
        backend.open_tables(name, KEYS).put("people", "1", {"id": 1})
    backend.remove("broadcast-a")
    assert backend.names("broadcast-") == ["broadcast-b"]
    assert backend.open_tables("broadcast-a", KEYS).table("people") == {}
    backend.close()


def test_a_document_the_database_refuses_is_dropped_alone(database_url: str) -> None:
    """jsonb cannot hold U+0000: that one change is logged and dropped, the others written."""
    backend = PgBackend(database_url)
    tables = backend.open_tables("t", KEYS)
    tables.put("people", "1", {"id": 1, "name": "nul\x00"})
    tables.put("people", "2", {"id": 2})
    assert backend.settle() and backend.ready
    assert _stored(database_url, "t") == {"2": {"id": 2}}
    backend.close()
