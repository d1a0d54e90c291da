"""The follower hands over every change of every namespace followed when its fetch ends,
even one that began to be followed while the fetch was under way."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from bot.store.pg.backend import PgBackend
from bot.store.pg.follow import Batch, Follower, Loaded

KEYS = {"people": lambda doc: str(doc["id"])}


async def _no_reload(namespace: str) -> tuple[Loaded, int]:
    raise AssertionError(f"nothing was pruned, yet {namespace} was reloaded")


async def test_a_namespace_opened_during_a_fetch_is_not_passed_over(database_url: str) -> None:
    """The first look at the namespaces finds none open; by the time the query returns, one
    is: its changes are fetched too, not skipped by moving ``seen`` past them."""
    writer = PgBackend(database_url)
    try:
        writer.open_tables("t", KEYS).put("people", "1", {"id": 1})
        assert writer.settle()
    finally:
        writer.close()
    asked: list[int] = []

    def namespaces() -> list[str]:
        asked.append(1)
        return [] if len(asked) == 1 else ["t"]

    delivered: list[Batch] = []
    async with AsyncConnectionPool(database_url, min_size=1, open=False) as pool:
        follower = Follower(
            database_url,
            pool,
            origin="someone else",
            seen=0,
            namespaces=namespaces,
            reload=_no_reload,
            deliver=delivered.append,
        )
        await follower.fetch()
    rows = [row for batch in delivered for row in batch.rows]
    assert [(ns, tbl, key, doc) for _, ns, tbl, key, doc in rows] == [
        ("t", "people", "1", {"id": 1})
    ]
    assert follower.seen == rows[-1][0]
