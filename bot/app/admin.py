"""Admin commands (BOT_ADMIN_IDS only): /stats, /reload, /feeds and /broadcast with a
confirmation.

Broadcasts live in the store (bot/store/broadcasts.py): a preview's buttons still work after
a restart, a broadcast cut short by one is resumed at the next start, and each broadcast's
delivery ledger is removed once it is done (only its report is kept).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from pathlib import Path

from bot.app.stats import Stats
from bot.core.actions import BROADCAST_VERB, Action
from bot.core.clock import Clock
from bot.core.domain import Block, Button, Reply
from bot.i18n.translator import Translator
from bot.newsroom.report import feeds_reply
from bot.newsroom.review import Review
from bot.store.broadcasts import Broadcast, BroadcastStore
from bot.store.candidates import CandidateStore
from bot.store.facts import ImportReport
from bot.store.feeds import FeedStatus
from bot.store.ledger import Ledger, remove_ledger
from bot.store.subscriptions import SubscriptionStore
from bot.store.tables import Backend, backend_of
from bot.store.users import UserStore

log = logging.getLogger(__name__)
MAX_BROADCAST = 3500
# A preview left unconfirmed this long is stale: its text may no longer be what to send.
CONFIRM_WITHIN = dt.timedelta(hours=24)
_LEDGER_PREFIX = "broadcast-"


class Admin:
    """Given the stores it reads and writes, and the reload to run: never the whole root."""

    def __init__(
        self,
        admin_ids: Collection[int],
        where: Path | Backend,
        *,
        users: UserStore,
        subscriptions: SubscriptionStore,
        broadcasts: BroadcastStore,
        ledger: Ledger,
        stats: Stats,
        clock: Clock,
        reload: Callable[[], ImportReport],
        feeds: Callable[[], Sequence[FeedStatus]] | None = None,  # None: the newsroom is off
        candidates: CandidateStore | None = None,
    ) -> None:
        self._admin_ids = admin_ids
        self._backend = backend_of(where)
        self._users = users
        self._subscriptions = subscriptions
        self._broadcasts = broadcasts
        self._ledger = ledger
        self._stats = stats
        self._clock = clock
        self._reload = reload
        # The newsroom's review (/queue); the root sets it once built.
        self.review: Review | None = None
        self._feeds = feeds
        self._candidates = candidates
        self._remove_stale_ledgers()

    def allowed(self, user_id: int) -> bool:
        return user_id in self._admin_ids

    def stats(self, tr: Translator, now: dt.datetime) -> Reply:
        subs = self._subscriptions.all()
        active = sum(s.active for s in subs)
        today = now.date()
        sent_today = sum(
            1 for e in self._ledger.entries() if e.status == "sent" and e.at.date() == today
        )
        counts = self._stats
        rows = [
            (tr.gettext("Users"), self._users.count()),
            (tr.gettext("Subscribers, active"), active),
            (tr.gettext("Subscribers, inactive"), len(subs) - active),
            (tr.gettext("Digests sent today"), sent_today),
            (tr.gettext("Questions answered"), counts.get("answered")),
            (tr.gettext("Questions declined"), counts.get("declined")),
            (tr.gettext("LLM answers"), counts.get("llm")),
            (tr.gettext("LLM fallbacks"), counts.get("llm_fallback")),
        ]
        blocks = [Block("title", tr.gettext("Statistics"))]
        blocks += [Block("text", f"{label}: {tr.number(value)}") for label, value in rows]
        if counts.llm_misconfigured is not None:
            blocks.append(
                Block(
                    "note",
                    tr.gettext("LLM misconfigured: {problem}").format(
                        problem=counts.llm_misconfigured
                    ),
                )
            )
        return Reply(tr.lang, tuple(blocks))

    def queue(self, tr: Translator) -> Reply:
        """/queue: the next newsroom candidate to review."""
        if self.review is None:
            empty = tr.gettext("Nothing to review: the queue is empty.")
            return Reply(tr.lang, (Block("text", empty),))
        return self.review.queue(tr)

    def feeds(self, tr: Translator, now: dt.datetime) -> Reply:
        """Each feed's last fetch, answer, items, errors, next poll and back-off."""
        statuses = self._feeds() if self._feeds is not None else None
        waiting = len(self._candidates.queue()) if self._candidates is not None else 0
        return feeds_reply(tr, statuses, waiting, now)

    def reload(self, tr: Translator) -> Reply:
        report = self._reload()
        text = tr.gettext(
            "Content reloaded: {added} added, {changed} changed, {removed} removed."
        ).format(
            added=tr.number(len(report.added)),
            changed=tr.number(len(report.changed)),
            removed=tr.number(len(report.removed)),
        )
        blocks = [Block("text", text)]
        blocks += [Block("note", f"+ {f}") for f in report.added]
        blocks += [Block("note", f"~ {f}") for f in report.changed]
        blocks += [Block("note", f"- {f}") for f in report.removed]
        return Reply(tr.lang, tuple(blocks))

    def prepare_broadcast(
        self, tr: Translator, admin_id: int, chat_id: int, text: str, now: dt.datetime
    ) -> Reply:
        text = text.strip()
        if not text or len(text) > MAX_BROADCAST:
            hint = tr.gettext("Usage: /broadcast <text> (at most {limit} characters).").format(
                limit=tr.number(MAX_BROADCAST)
            )
            return Reply(tr.lang, (Block("text", hint),))
        broadcast_id = secrets.token_hex(4)
        self._broadcasts.put(Broadcast(broadcast_id, admin_id, chat_id, text, now))
        count = sum(s.active for s in self._subscriptions.all())
        question = tr.gettext("Send this message to {count} active subscribers?").format(
            count=tr.number(count)
        )
        rows = (
            (
                Button(tr.gettext("Send"), Action(BROADCAST_VERB, f"yes:{broadcast_id}").encode()),
                Button(
                    tr.gettext("Cancel"), Action(BROADCAST_VERB, f"no:{broadcast_id}").encode()
                ),
            ),
        )
        return Reply(tr.lang, (Block("text", question), Block("note", text)), rows)

    def _pending(self, admin_id: int, broadcast_id: str, now: dt.datetime) -> Broadcast | None:
        broadcast = self._broadcasts.get(broadcast_id)
        if broadcast is None or broadcast.state != "pending" or broadcast.admin_id != admin_id:
            return None
        if now - broadcast.created_at > CONFIRM_WITHIN:
            self._broadcasts.finish(broadcast, "cancelled", "expired")
            return None
        return broadcast

    def take_broadcast(
        self, admin_id: int, broadcast_id: str, now: dt.datetime
    ) -> Broadcast | None:
        """The confirmed broadcast, now running, once; None if unknown, expired, already
        confirmed or cancelled, or not this admin's."""
        pending = self._pending(admin_id, broadcast_id, now)
        if pending is None:
            return None
        # Running before the first send, and its ledger day fixed: a restart resumes it
        # without sending anyone a second copy, even after midnight.
        running = replace(pending, state="running", day=now.date())
        self._broadcasts.put(running)
        return running

    def cancel_broadcast(self, admin_id: int, broadcast_id: str, now: dt.datetime) -> bool:
        pending = self._pending(admin_id, broadcast_id, now)
        if pending is not None:
            self._broadcasts.finish(pending, "cancelled")
        return pending is not None

    def interrupted_broadcasts(self) -> list[Broadcast]:
        """Broadcasts confirmed but not finished when the bot last stopped."""
        return self._broadcasts.with_state("running")

    def finish_broadcast(self, broadcast: Broadcast, report: str) -> None:
        """Keep the report, drop the delivery ledger it no longer needs."""
        self._broadcasts.finish(broadcast, "done", report)
        remove_ledger(self._backend, _LEDGER_PREFIX + broadcast.id)

    def _remove_stale_ledgers(self) -> None:
        """Ledgers of broadcasts that are not running (left by a version that kept them all)."""
        running = {_LEDGER_PREFIX + b.id for b in self.interrupted_broadcasts()}
        for name in self._backend.names(_LEDGER_PREFIX):
            if name not in running:
                log.info("removing the delivery ledger of a finished broadcast: %s", name)
                remove_ledger(self._backend, name)

    def broadcast_ledger(self, broadcast_id: str) -> Ledger:
        clock = self._clock
        return Ledger(
            self._backend,
            today=lambda: clock().date(),
            name=_LEDGER_PREFIX + broadcast_id,
        )
