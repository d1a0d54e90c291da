"""Daily digest delivery: find who is due, compose, send once, record, whatever crashes.

One sweep runs every minute (see docs/DIGESTS.md for why a sweep rather than one job per
subscriber). For each subscriber due now it writes ``sending`` to the ledger, sends, then writes
the outcome, and after each message of a multi-part digest, how many parts went out. After a
kill -9 and restart, ``sending`` entries are resumed after their last journaled part: the window
for a duplicate is one message that Telegram accepted in the few milliseconds before the kill
and before the journal heard of it; a miss is not possible.

The other window is the network's: a timeout or a reset after Telegram accepted a message looks
exactly like one before it, and such failures are retried (as Telegram's own advice is), so in
that case a digest can arrive twice. Choosing the opposite would lose digests instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from bot.compose.digest import changed_facts, compose_digest, quiet_digest
from bot.core.domain import Block, Library, Reply, Subscription, told
from bot.core.schedule import DEFAULT_CATCH_UP, decide
from bot.core.tally import NoTally, Tally
from bot.i18n.translator import translator
from bot.store.ledger import SENDING, Ledger
from bot.store.subscriptions import SubscriptionStore

log = logging.getLogger(__name__)
Outcome = Literal["sent", "blocked", "failed"]
# Digests already composed in a sweep, by what decides their text, with the library they
# came from (a reload in the middle of a sweep must not serve the old content).
Composed = dict[tuple[object, ...], tuple[Library, Reply]]
# Told once a reply is delivered: the chat, the fact revisions it carried, when, in which
# language (receipts).
Told = Callable[[int, tuple[tuple[str, int], ...], dt.datetime, str], None]
# One delivery of a fan-out: the chat, its ledger key, and the reply (None: nothing to send).
Job = tuple[int, dt.date, Callable[[], Reply | None]]


class Sender(Protocol):
    """Delivers one reply to one chat; the Telegram adapter implements it.

    A reply may take several messages: ``skip`` leaves out the first ones (already delivered
    before a crash) and ``on_part`` is told, after each message, how many have gone out.
    """

    async def send(
        self,
        chat_id: int,
        reply: Reply,
        *,
        skip: int = 0,
        on_part: Callable[[int], None] | None = None,
    ) -> Outcome: ...


@dataclass(frozen=True)
class SweepReport:
    counts: dict[str, int]

    def __str__(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "nothing due"


class DigestService:
    def __init__(
        self,
        library: Callable[[], Library],
        subscriptions: SubscriptionStore,
        ledger: Ledger,
        *,
        catch_up: dt.timedelta = DEFAULT_CATCH_UP,
        concurrency: int = 8,
        stats: Tally | None = None,
        told: Told | None = None,
    ) -> None:
        self._stats = stats or NoTally()
        self._told = told
        self._library = library
        self._subscriptions = subscriptions
        self._ledger = ledger
        self._catch_up = catch_up
        self._concurrency = concurrency
        self._lock = asyncio.Lock()
        self._stopping = False

    def request_stop(self) -> None:
        """Shutting down: sends in flight finish, no new one starts (those stay due)."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    def with_last_sent(self, sub: Subscription) -> Subscription:
        last = self._ledger.last_sent(sub.chat_id)
        return sub if last is None or last <= sub.last_sent_at else replace(sub, last_sent_at=last)

    def compose(
        self,
        sub: Subscription,
        now: dt.datetime,
        composed: Composed | None = None,
        day: dt.date | None = None,
    ) -> Reply | None:
        """The digest for ``sub``, dated ``day`` (by default today where the subscriber is);
        None when nothing is new and the subscriber wants silence.

        Subscribers who share a language, a day and the same news get the same digest:
        ``composed`` keeps it for the rest of a sweep (formatting it with Babel for each of
        them was a fifth of the CPU per message when broadcasting).
        """
        library = self._library()
        changed = tuple(f.id for f in changed_facts(library, sub.last_sent_at, now, sub.topics))
        if not changed and sub.skip_empty:
            return None
        # Dates are the reader's, not the server's: an evening digest in Montréal is already
        # tomorrow in UTC. A late one (catch-up) keeps the day it was due.
        zone = ZoneInfo(sub.zone)
        since = sub.last_sent_at.astimezone(zone)
        today = day or now.astimezone(zone).date()
        previous = self._previous_day(sub, since)
        key = (sub.lang, sub.locale, today, sub.topics, changed, None if changed else previous)
        if composed is not None and (known := composed.get(key)) and known[0] is library:
            return known[1]
        reply = _digest_reply(library, sub, since, now, today, previous)
        if composed is not None:
            composed[key] = (library, reply)
        return reply

    def _previous_day(self, sub: Subscription, since: dt.datetime) -> dt.date:
        """The day a quiet digest names as the previous one's (as its title had it): the
        ledger's when it recorded this very send, else the day of ``since``."""
        previous = since.date()
        if self._ledger.last_sent(sub.chat_id) == sub.last_sent_at:
            previous = self._ledger.last_sent_day(sub.chat_id) or previous
        return previous

    async def sweep(self, sender: Sender, now: dt.datetime) -> SweepReport:
        """Deliver every digest due at ``now``; one failing chat never stops the others."""
        async with self._lock:  # a slow sweep and the next minute's must not overlap
            counts: Counter[str] = Counter()
            if not self._ledger.ready:
                # The store is away (PostgreSQL): a send it could not record might go out
                # twice. Everything stays due; the next minute's sweep looks again.
                log.warning("digest sweep waits: the store does not take writes now")
                return SweepReport({"waiting": 1})
            due = []
            for sub in self._subscriptions.all():
                decision = decide(sub, now, False, self._catch_up)
                if decision is None or self._ledger.is_final(sub.chat_id, decision[1].local_date):
                    continue
                action, occurrence = decision
                if action == "skip":
                    self._ledger.record(sub.chat_id, occurrence.local_date, "skipped", now)
                    counts["skipped"] += 1
                else:
                    due.append((self.with_last_sent(sub), occurrence.local_date))
            composed: Composed = {}
            jobs: list[Job] = [
                (sub.chat_id, day, functools.partial(self.compose, sub, now, composed, day))
                for sub, day in due
            ]
            await self._fan_out(sender, self._ledger, jobs, now, counts)
            report = SweepReport(dict(counts))
            for outcome, count in counts.items():
                self._stats.add(f"digest_{outcome}", count)
            if counts:
                log.info("digest sweep: %s", report)
            return report

    async def broadcast(
        self, sender: Sender, ledger: Ledger, text: str, now: dt.datetime, day: dt.date
    ) -> SweepReport:
        """An admin message to every active subscriber, through the same ledgered path; ``day``
        keys the ledger, so a broadcast resumed later sends nobody a second copy."""
        counts: Counter[str] = Counter()
        jobs: list[Job] = []
        for sub in self._subscriptions.all():
            if not sub.active:
                continue
            if ledger.is_final(sub.chat_id, day):
                counts["already"] += 1
                continue
            reply = Reply(sub.lang, (Block("text", text),))
            jobs.append((sub.chat_id, day, _constant(reply)))
        await self._fan_out(sender, ledger, jobs, now, counts)
        return SweepReport(dict(counts))

    async def deliver_notes(
        self, sender: Sender, ledger: Ledger, jobs: Sequence[Job], now: dt.datetime
    ) -> SweepReport:
        """Notes to chosen chats (corrections), through the same ledgered path as digests; a
        chat the ledger already has a final entry for is not sent a second one."""
        counts: Counter[str] = Counter()
        waiting = []
        for job in jobs:
            if ledger.is_final(job[0], job[1]):
                counts["already"] += 1
            else:
                waiting.append(job)
        await self._fan_out(sender, ledger, waiting, now, counts)
        return SweepReport(dict(counts))

    async def _fan_out(
        self,
        sender: Sender,
        ledger: Ledger,
        jobs: Sequence[Job],
        now: dt.datetime,
        counts: Counter[str],
    ) -> None:
        """Deliver each job, ``concurrency`` at a time; one failing chat never stops the others.

        ``compose`` gives None when there is nothing to send (recorded as skipped, "empty").
        """
        gate = asyncio.Semaphore(self._concurrency)
        blocked: list[int] = []

        async def one(chat_id: int, key: dt.date, compose: Callable[[], Reply | None]) -> None:
            async with gate:
                if self._stopping or not ledger.ready:
                    # Not in the ledger, so still due: the next sweep (or start) sends it.
                    counts["deferred"] += 1
                    return
                reply = compose()
                if reply is None:
                    ledger.record(chat_id, key, "skipped", now)
                    counts["empty"] += 1
                    return
                outcome = await deliver_once(sender, ledger, chat_id, key, reply, now)
            if outcome == "sent" and reply.facts and self._told is not None:
                self._told(chat_id, reply.facts, now, reply.lang)
            if outcome == "blocked" and self._subscriptions.set_active(chat_id, False, save=False):
                blocked.append(chat_id)
            counts[outcome] += 1

        try:
            # Every job runs to its end even if one raises (a store write failing, say): the
            # others' outcomes, blocked subscribers included, are all saved below.
            results = await asyncio.gather(*(one(*job) for job in jobs), return_exceptions=True)
        finally:
            try:
                # One write for every subscriber who blocked the bot, not one each.
                self._subscriptions.save_active(blocked)
                ledger.sync()
            except OSError:
                # Not raised: it would hide a cancellation in flight. Memory keeps them
                # inactive; after a restart their next 403 sets the flag again.
                log.exception("saving the sweep's blocked subscribers failed")
        interrupted = None
        for result in results:
            if isinstance(result, Exception):
                log.error("the digest for one chat failed; the others went on", exc_info=result)
                counts["failed"] += 1
            elif isinstance(result, BaseException):
                interrupted = interrupted or result
        if interrupted is not None:
            raise interrupted


# How long a send waits for its intent to be durable before it is left for a later sweep.
INTENT_WAIT = 5.0


def _digest_reply(
    library: Library,
    sub: Subscription,
    since: dt.datetime,
    now: dt.datetime,
    today: dt.date,
    previous: dt.date,
) -> Reply:
    """What changed since ``since``, or (a digest with no news) the quiet digest, which
    names the day of the previous one."""
    tr = translator(sub.lang, sub.locale)
    changed = changed_facts(library, since, now, sub.topics)
    blocks = compose_digest(library, since, now, tr, today, sub.topics)
    if blocks is None:
        overview = library.briefings.get("overview")
        changed = [library.facts[f] for f in (overview.fact_ids[:3] if overview else ())]
        blocks = quiet_digest(library, previous, tr, today)
    return Reply(sub.lang, tuple(blocks), facts=told(changed))


def _constant(reply: Reply) -> Callable[[], Reply | None]:
    return lambda: reply


async def deliver_once(
    sender: Sender,
    ledger: Ledger,
    chat_id: int,
    key: dt.date,
    reply: Reply,
    now: dt.datetime,
) -> str:
    """Write the intent, send, write the outcome; see the module docstring for the crash window.

    Each message of a multi-part reply is journaled as it goes out, so a restart resumes after
    the last delivered part instead of sending the first ones again.
    """
    done = ledger.parts_sent(chat_id, key)
    ledger.record(chat_id, key, SENDING, now, parts=done)
    if not await ledger.written(INTENT_WAIT):
        # The intent is not durable (the database went away): sending now could send twice
        # after a crash. Still "sending", so not final: a later sweep resumes it.
        return "deferred"

    def progress(parts: int) -> None:
        ledger.record(chat_id, key, SENDING, now, parts=parts)

    try:
        outcome: str = await sender.send(chat_id, reply, skip=done, on_part=progress)
    except Exception:
        log.exception("delivery to one chat failed; the others go on")
        outcome = "failed"
    # "failed" is not final: a later sweep tries again (digests, within the catch-up window).
    ledger.record(chat_id, key, outcome, now)
    return outcome
