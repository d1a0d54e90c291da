"""Approved facts, drafts in progress and correction runs, in ``editorial.json``.

Approved facts live here and not in ``facts.json``: that file is rebuilt from content/ at
every import, and an approval must survive it (bot/core/editorial.py merges them into the
Library the bot serves). Drafts are per-editor conversation state, so a restart in the middle
of one loses nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bot.core.domain import Bilingual, Fact, Status
from bot.core.editorial import Approved, Draft
from bot.store.facts import figure_doc, figures_from, source_doc, source_from
from bot.store.journal import Doc, load_tables, opened_with
from bot.store.tables import Backend, Tables, backend_of

EDITORIAL = "editorial"
EDITORIAL_FILE = f"{EDITORIAL}.json"
_APPROVED, _DRAFTS, _RUNS = "approved", "drafts", "corrections"

RunState = Literal["running", "done"]


@dataclass(frozen=True)
class CorrectionRun:
    """The correction notes one approval owes: to whom, keyed in their own ledger by ``day``."""

    id: str
    fact_id: str  # the approved fact
    old_id: str  # the fact it updates
    day: dt.date
    targets: tuple[int, ...]  # chats told the older version before the approval
    editor_chat: int
    state: RunState = "running"
    report: str = ""


_KEYS = {
    _APPROVED: lambda doc: str(doc["fact"]["id"]),
    _DRAFTS: lambda doc: str(doc["editor"]),
    _RUNS: lambda doc: str(doc["id"]),
}


def read_approved(data_dir: Path) -> list[Approved]:
    """The approved facts as the file and its journal hold them, without opening the store
    (``content export`` runs beside a running bot)."""
    path = data_dir / EDITORIAL_FILE
    if not path.exists():
        return []
    docs = load_tables(path, _KEYS)[_APPROVED].values()
    return sorted((_approved_from(d) for d in docs), key=lambda a: (a.approved_at, a.fact.id))


class EditorialStore:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables
        self._approved = {
            doc["fact"]["id"]: _approved_from(doc) for doc in tables.table(_APPROVED).values()
        }
        self._on_approved: list[Callable[[], None]] = []
        tables.observe(self._changed)

    def _changed(self, changes: Mapping[str, Mapping[str, Doc | None]]) -> None:
        """Another replica approved facts: this one serves them too."""
        approved = changes.get(_APPROVED, {})
        for key, doc in approved.items():
            if doc is None:
                self._approved.pop(key, None)
            else:
                self._approved[doc["fact"]["id"]] = _approved_from(doc)
        if approved:
            for then in self._on_approved:
                then()

    def on_approved(self, then: Callable[[], None]) -> None:
        """Call ``then`` after another replica's approvals are taken in (PostgreSQL only)."""
        self._on_approved.append(then)

    @classmethod
    def open(cls, where: Path | Backend) -> EditorialStore:
        return opened_with(backend_of(where).open_tables(EDITORIAL, _KEYS, compact_every=200), cls)

    def close(self) -> None:
        self._tables.close()

    # ---- approved facts --------------------------------------------------------------------

    def approved(self) -> list[Approved]:
        """Every approved fact, oldest approval first."""
        return sorted(self._approved.values(), key=lambda a: (a.approved_at, a.fact.id))

    def put_approved(self, approved: Approved) -> None:
        self._tables.put(_APPROVED, approved.fact.id, _approved_doc(approved))
        self._approved[approved.fact.id] = approved

    # ---- drafts ----------------------------------------------------------------------------

    def draft(self, editor_id: int) -> Draft | None:
        doc = self._tables.table(_DRAFTS).get(str(editor_id))
        return None if doc is None else _draft_from(doc)

    def put_draft(self, draft: Draft) -> None:
        self._tables.put(_DRAFTS, str(draft.editor_id), _draft_doc(draft))

    def drop_draft(self, editor_id: int) -> None:
        self._tables.put(_DRAFTS, str(editor_id), None)

    # ---- correction runs -------------------------------------------------------------------

    def put_run(self, run: CorrectionRun) -> None:
        self._tables.put(_RUNS, run.id, _run_doc(run))

    def run(self, run_id: str) -> CorrectionRun | None:
        doc = self._tables.table(_RUNS).get(run_id)
        return None if doc is None else _run_from(doc)

    def running(self) -> list[CorrectionRun]:
        runs = (_run_from(doc) for doc in self._tables.table(_RUNS).values())
        return [run for run in runs if run.state == "running"]


def _fact_doc(fact: Fact) -> dict[str, Any]:
    return {
        "id": fact.id,
        "topic": fact.topic,
        "status": fact.status.value,
        "source": fact.source_id,
        "also": list(fact.also),
        "entities": list(fact.entities),
        "text_fr": fact.text.fr,
        "text_en": fact.text.en,
        "figures": [figure_doc(f) for f in fact.figures],
        "previous_figures": [figure_doc(f) for f in fact.previous_figures],
        "first_seen": fact.first_seen.isoformat(),
        "updated": fact.updated.isoformat(),
        "changed_at": fact.changed_at.isoformat() if fact.changed_at else None,
    }


def _fact_from(doc: dict[str, Any]) -> Fact:
    changed_at = doc.get("changed_at")
    return Fact(
        id=doc["id"],
        topic=doc["topic"],
        status=Status(doc["status"]),
        source_id=doc["source"],
        also=tuple(doc.get("also", ())),
        entities=tuple(doc.get("entities", ())),
        text=Bilingual(doc["text_fr"], doc["text_en"]),
        figures=figures_from(doc.get("figures", ())),
        previous_figures=figures_from(doc.get("previous_figures", ())),
        first_seen=dt.date.fromisoformat(doc["first_seen"]),
        updated=dt.date.fromisoformat(doc["updated"]),
        changed_at=dt.datetime.fromisoformat(changed_at) if changed_at else None,
    )


def _approved_doc(a: Approved) -> dict[str, Any]:
    return {
        "fact": _fact_doc(a.fact),
        "sources": [source_doc(s) for s in a.sources],
        "candidate": a.candidate_id,
        "editor": a.editor_id,
        "approved_at": a.approved_at.isoformat(),
        "updates": a.updates,
        "old_status": a.old_status.value if a.old_status else None,
    }


def _approved_from(doc: dict[str, Any]) -> Approved:
    old_status = doc.get("old_status")
    return Approved(
        fact=_fact_from(doc["fact"]),
        sources=tuple(source_from(s) for s in doc.get("sources", ())),
        candidate_id=str(doc["candidate"]),
        editor_id=int(doc["editor"]),
        approved_at=dt.datetime.fromisoformat(doc["approved_at"]),
        updates=doc.get("updates"),
        old_status=Status(old_status) if old_status else None,
    )


def _draft_doc(d: Draft) -> dict[str, Any]:
    return {
        "editor": d.editor_id,
        "chat": d.chat_id,
        "candidate": d.candidate_id,
        "step": d.step,
        "topic": d.topic,
        "status": d.status,
        "text_en": d.text_en,
        "text_fr": d.text_fr,
        "figures": [figure_doc(f) for f in d.figures],
        "matches": list(d.matches),
        "updates": d.updates,
        "old_status": d.old_status,
        "source_lang": d.source_lang,
        "by_model": d.by_model,
        "revising": d.revising,
    }


def _draft_from(doc: dict[str, Any]) -> Draft:
    return Draft(
        editor_id=int(doc["editor"]),
        chat_id=int(doc["chat"]),
        candidate_id=str(doc["candidate"]),
        step=str(doc["step"]),
        topic=doc.get("topic"),
        status=doc.get("status"),
        text_en=doc.get("text_en"),
        text_fr=doc.get("text_fr"),
        figures=figures_from(doc.get("figures", ())),
        matches=tuple(doc.get("matches", ())),
        updates=doc.get("updates"),
        old_status=doc.get("old_status"),
        source_lang=str(doc.get("source_lang", "en")),
        by_model=bool(doc.get("by_model", False)),
        revising=bool(doc.get("revising", False)),
    )


def _run_doc(r: CorrectionRun) -> dict[str, Any]:
    return {
        "id": r.id,
        "fact": r.fact_id,
        "old": r.old_id,
        "day": r.day.isoformat(),
        "targets": list(r.targets),
        "editor_chat": r.editor_chat,
        "state": r.state,
        "report": r.report,
    }


def _run_from(doc: dict[str, Any]) -> CorrectionRun:
    return CorrectionRun(
        id=str(doc["id"]),
        fact_id=str(doc["fact"]),
        old_id=str(doc["old"]),
        day=dt.date.fromisoformat(doc["day"]),
        targets=tuple(int(c) for c in doc.get("targets", ())),
        editor_chat=int(doc["editor_chat"]),
        state="done" if doc.get("state") == "done" else "running",
        report=str(doc.get("report", "")),
    )
