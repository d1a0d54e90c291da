"""Versioned SQL migrations (``migrations/NNNN_name.sql``), applied at start-up.

All pending migrations run in one transaction that first takes a transaction-scoped advisory
lock: replicas starting together wait for the first one, then find nothing left to do; and
PostgreSQL's DDL is transactional, so a migration that fails halfway leaves the schema as it
was. A database whose schema is newer than this code knows is refused, never written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import psycopg

# pg_advisory_xact_lock's key: any constant the application owns ("pbmigrate" in ASCII).
MIGRATION_LOCK = 0x70626D6967726174
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer version of the bot."""


class MigrationFailed(RuntimeError):
    """A migration's SQL failed; nothing of the run was kept."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def bundled_migrations() -> tuple[Migration, ...]:
    """The migrations shipped in this package, in version order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return tuple(sorted(found, key=lambda m: m.version))


async def migrate(
    conn: psycopg.AsyncConnection[object], migrations: Sequence[Migration] | None = None
) -> list[int]:
    """Bring the schema up to date; the versions applied now (none when already current)."""
    known = tuple(migrations) if migrations is not None else bundled_migrations()
    latest = max((m.version for m in known), default=0)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
        row = await cur.fetchone()
        current = int(row[0]) if row else 0  # type: ignore[index]
        if current > latest:
            raise SchemaTooNew(
                f"the database schema is at version {current}, newer than this version of "
                f"partnerbrief knows ({latest}): upgrade the bot, or point DATABASE_URL at "
                f"another database"
            )
        applied = []
        for migration in known:
            if migration.version <= current:
                continue
            try:
                await conn.execute(migration.sql.encode())
            except psycopg.Error as exc:
                raise MigrationFailed(
                    f"migration {migration.version:04d}_{migration.name} failed, nothing was "
                    f"changed: {exc}"
                ) from exc
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied.append(migration.version)
        return applied


async def schema_version(conn: psycopg.AsyncConnection[object]) -> int:
    cur = await conn.execute(
        "SELECT coalesce(max(version), 0) FROM schema_migrations"
        if await _has_table(conn, "schema_migrations")
        else "SELECT 0"
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0  # type: ignore[index]


async def _has_table(conn: psycopg.AsyncConnection[object], name: str) -> bool:
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
    row = await cur.fetchone()
    return bool(row and row[0])  # type: ignore[index]
