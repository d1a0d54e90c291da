"""Corrections: when an approval updates an older fact, each chat told the older version gets
one short note, once, in its language.

Who is owed one is decided at the approval, from the receipts (bot/store/receipts.py: which
fact revisions each chat was told, and when), and kept in the run (bot/store/editorial.py), so
a restart resumes the same list. Each run has its own delivery ledger, as a broadcast does,
so a resumed run sends nobody a second note; its ledger is removed once it is done. Sending
is the digest fan-out's (DigestService.deliver_notes), which the adapter drives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bot.compose.correction import compose_correction
from bot.core.clock import Clock
from bot.core.domain import Library, Reply
from bot.core.editorial import Approved
from bot.i18n.translator import Translator
from bot.store.editorial import CorrectionRun, EditorialStore
from bot.store.ledger import Ledger, remove_ledger
from bot.store.receipts import ReceiptStore
from bot.store.tables import Backend

log = logging.getLogger(__name__)
LEDGER_PREFIX = "correction-"


class Corrections:
    def __init__(
        self,
        editorial: EditorialStore,
        receipts: ReceiptStore,
        library: Callable[[], Library],
        translator_for: Callable[[int], Translator],
        where: Path | Backend,
        clock: Clock,
    ) -> None:
        self._editorial = editorial
        self._receipts = receipts
        self._library = library
        self._translator_for = translator_for
        self._where = where
        self._clock = clock

    def plan(self, approved: Approved) -> CorrectionRun | None:
        """The run an approval owes (None when it updates nothing): every chat told the older
        fact before the approval."""
        if not approved.corrects or approved.updates is None:
            return None
        targets = self._receipts.readers(approved.updates, before=approved.approved_at)
        run = CorrectionRun(
            id=approved.fact.id,
            fact_id=approved.fact.id,
            old_id=approved.updates,
            day=approved.approved_at.date(),
            targets=tuple(targets),
            editor_chat=approved.editor_id,
        )
        self._editorial.put_run(run)
        log.info("correction %s owed to %d chats", run.id, len(targets))
        return run

    def running(self) -> list[CorrectionRun]:
        """Runs approved but not finished when the bot last stopped (or still going)."""
        return self._editorial.running()

    def notes(self, run: CorrectionRun) -> list[tuple[int, Callable[[], Reply | None]]]:
        """Per target chat, its note, composed when it is sent (one per language and locale)."""
        library = self._library()
        old, new = library.facts.get(run.old_id), library.facts.get(run.fact_id)
        composed: dict[tuple[str, str], Reply] = {}

        def note(chat_id: int) -> Reply | None:
            if old is None or new is None:
                return None  # content removed it since: nothing true left to correct
            tr = self._translator_for(chat_id)
            key = (tr.lang, tr.locale)
            if key not in composed:
                composed[key] = compose_correction(library, old, new, tr)
            return composed[key]

        return [(chat, _bind(note, chat)) for chat in run.targets]

    def ledger(self, run: CorrectionRun) -> Ledger:
        clock = self._clock
        return Ledger(self._where, today=lambda: clock().date(), name=LEDGER_PREFIX + run.id)

    def finish(self, run: CorrectionRun, report: str) -> None:
        """Keep the report, drop the run's delivery ledger."""
        self._editorial.put_run(replace(run, state="done", report=report))
        remove_ledger(self._where, LEDGER_PREFIX + run.id)


def _bind(note: Callable[[int], Reply | None], chat_id: int) -> Callable[[], Reply | None]:
    return lambda: note(chat_id)
