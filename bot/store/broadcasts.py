"""Admin broadcasts, stored beside the users in ``users.json`` so that none is lost on restart.

A broadcast is ``pending`` from its preview until the admin confirms or cancels it (its
buttons keep working across restarts, until it expires), ``running`` from the confirmation
until every subscriber has it (a restart resumes it: its own ledger says who already has it),
then ``done`` or ``cancelled``. Only the last few finished ones are kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from bot.store.journal import Doc
from bot.store.tables import Tables

State = Literal["pending", "running", "done", "cancelled"]
TABLE = "broadcasts"
KEEP_FINISHED = 20


@dataclass(frozen=True)
class Broadcast:
    id: str
    admin_id: int
    chat_id: int  # where the admin is told how it went
    text: str
    created_at: dt.datetime
    state: State = "pending"
    day: dt.date | None = None  # the ledger's key for every send, fixed at confirmation
    report: str | None = None


class BroadcastStore:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables
        self._all = {doc["id"]: _from_doc(doc) for doc in tables.table(TABLE).values()}
        tables.observe(self._changed)

    def _changed(self, changes: Mapping[str, Mapping[str, Doc | None]]) -> None:
        for key, doc in changes.get(TABLE, {}).items():
            if doc is None:
                self._all.pop(key, None)
            else:
                self._all[key] = _from_doc(doc)

    def get(self, broadcast_id: str) -> Broadcast | None:
        return self._all.get(broadcast_id)

    def put(self, broadcast: Broadcast) -> None:
        self._tables.put(TABLE, broadcast.id, _doc(broadcast))
        self._all[broadcast.id] = broadcast
        if broadcast.state in ("done", "cancelled"):
            self._forget_old()

    def with_state(self, state: State) -> list[Broadcast]:
        return sorted(
            (b for b in self._all.values() if b.state == state), key=lambda b: b.created_at
        )

    def finish(self, broadcast: Broadcast, state: State, report: str | None = None) -> None:
        self.put(replace(broadcast, state=state, report=report))

    def _forget_old(self) -> None:
        finished = [b for b in self._all.values() if b.state in ("done", "cancelled")]
        finished.sort(key=lambda b: b.created_at)
        old = finished[: max(0, len(finished) - KEEP_FINISHED)]
        if old:
            self._tables.put_many(TABLE, {b.id: None for b in old})
            for b in old:
                del self._all[b.id]


def _doc(b: Broadcast) -> dict[str, Any]:
    return {
        "id": b.id,
        "admin": b.admin_id,
        "chat": b.chat_id,
        "text": b.text,
        "created_at": b.created_at.isoformat(),
        "state": b.state,
        "day": b.day.isoformat() if b.day else None,
        "report": b.report,
    }


def _from_doc(doc: dict[str, Any]) -> Broadcast:
    state = doc["state"]
    return Broadcast(
        id=str(doc["id"]),
        admin_id=int(doc["admin"]),
        chat_id=int(doc["chat"]),
        text=str(doc["text"]),
        created_at=dt.datetime.fromisoformat(doc["created_at"]),
        state=state if state in ("pending", "running", "done", "cancelled") else "cancelled",
        day=dt.date.fromisoformat(doc["day"]) if doc.get("day") else None,
        report=doc.get("report"),
    )
