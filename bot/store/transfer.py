"""Copy an embedded bot's data directory into PostgreSQL (``python -m bot store migrate``).

Every TinyDB file becomes the namespace of the same name, its journal replayed first, so what
is copied is what the bot would have read at its next start. Only what differs is written:
running it twice copies nothing the second time, and a run cut short is finished by the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.store import candidates, facts, ledger, users
from bot.store.atomic import AtomicJSONStorage
from bot.store.journal import Doc, KeyOf, journal_path, load_tables
from bot.store.pg.backend import PgBackend

_CHUNK = 5000


@dataclass(frozen=True)
class Copied:
    """One table of one file: documents written now, and those already there as they are."""

    namespace: str
    table: str
    written: int
    unchanged: int


def _keyed_files(data_dir: Path) -> dict[str, Mapping[str, KeyOf]]:
    """The data directory's journaled files and how their tables are keyed."""
    found: dict[str, Mapping[str, KeyOf]] = {
        users.USERS: users.TABLE_KEYS,
        candidates.NEWSROOM: candidates.TABLE_KEYS,
        "ledger": ledger.TABLE_KEYS,
    }
    for path in sorted(data_dir.glob("broadcast-*.json")):
        found[path.stem] = ledger.TABLE_KEYS
    return {
        name: keys
        for name, keys in found.items()
        if (data_dir / f"{name}.json").exists() or journal_path(data_dir / f"{name}.json").exists()
    }


def read_data_dir(data_dir: Path) -> dict[str, dict[str, dict[str, Doc]]]:
    """namespace → table → key → document, as the embedded bot would load them."""
    out: dict[str, dict[str, dict[str, Doc]]] = {}
    for name, keys in _keyed_files(data_dir).items():
        out[name] = load_tables(data_dir / f"{name}.json", keys)
    facts_file = data_dir / facts.FACTS_FILE
    if facts_file.exists():
        storage = AtomicJSONStorage(facts_file)
        try:
            stored = storage.read() or {}
        finally:
            storage.close()
        # Numbered as in the file: the number keeps the content's order (facts.py).
        out[facts.FACTS] = {name: dict(stored.get(name, {})) for name in facts.TABLES}
    return out


def copy_to_postgres(data_dir: Path, backend: PgBackend) -> list[Copied]:
    report = []
    for namespace, tables in read_data_dir(data_dir).items():
        keys: dict[str, KeyOf] = {name: (lambda doc: "") for name in tables}
        target = backend.open_tables(namespace, keys)
        for name, docs in tables.items():
            there = target.table(name)
            changed = {k: doc for k, doc in docs.items() if there.get(k) != doc}
            items = list(changed.items())
            for start in range(0, len(items), _CHUNK):
                target.put_many(name, dict(items[start : start + _CHUNK]))
            report.append(Copied(namespace, name, len(changed), len(docs) - len(changed)))
    if not backend.settle(timeout=3600):
        raise RuntimeError("PostgreSQL did not take the copy within an hour")
    return report
