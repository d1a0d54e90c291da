"""Admin commands (BOT_ADMIN_IDS only): /stats, /reload and /broadcast with a confirmation."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING

from bot.domain import Block, Button, Reply
from bot.i18n import Translator
from bot.store.ledger import Ledger

if TYPE_CHECKING:
    from bot.services import Services

MAX_BROADCAST = 3500


class Admin:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._pending: dict[str, tuple[int, str]] = {}  # id -> (admin id, text)

    def allowed(self, user_id: int) -> bool:
        return user_id in self._services.settings.admin_ids

    def stats(self, tr: Translator, now: dt.datetime) -> Reply:
        services = self._services
        subs = services.subscriptions.all()
        active = sum(s.active for s in subs)
        today = now.date()
        sent_today = sum(
            1 for e in services.ledger.entries() if e.status == "sent" and e.at.date() == today
        )
        counts = services.stats
        rows = [
            (tr.gettext("Users"), services.users.count()),
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
        return Reply(tr.lang, tuple(blocks))

    def reload(self, tr: Translator) -> Reply:
        report = self._services.reload()
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

    def prepare_broadcast(self, tr: Translator, admin_id: int, text: str) -> Reply:
        text = text.strip()
        if not text or len(text) > MAX_BROADCAST:
            hint = tr.gettext("Usage: /broadcast <text> (at most {limit} characters).").format(
                limit=tr.number(MAX_BROADCAST)
            )
            return Reply(tr.lang, (Block("text", hint),))
        broadcast_id = secrets.token_hex(4)
        self._pending[broadcast_id] = (admin_id, text)
        count = sum(s.active for s in self._services.subscriptions.all())
        question = tr.gettext("Send this message to {count} active subscribers?").format(
            count=tr.number(count)
        )
        rows = (
            (
                Button(tr.gettext("Send"), f"v1:bc:yes:{broadcast_id}"),
                Button(tr.gettext("Cancel"), f"v1:bc:no:{broadcast_id}"),
            ),
        )
        return Reply(tr.lang, (Block("text", question), Block("note", text)), rows)

    def take_broadcast(self, admin_id: int, broadcast_id: str) -> str | None:
        """The confirmed text, once; None if unknown, already sent, or not this admin's."""
        pending = self._pending.get(broadcast_id)
        if pending is None or pending[0] != admin_id:
            return None
        del self._pending[broadcast_id]
        return pending[1]

    def cancel_broadcast(self, admin_id: int, broadcast_id: str) -> bool:
        return self.take_broadcast(admin_id, broadcast_id) is not None

    def broadcast_ledger(self, broadcast_id: str) -> Ledger:
        services = self._services
        return Ledger(
            services.settings.data_dir,
            today=lambda: services.clock().date(),
            name=f"broadcast-{broadcast_id}",
        )
