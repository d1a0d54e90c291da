"""Seed a data directory with subscribers whose digest is due now, and read back what happened.

Shared by the crash tests (tests/tg/test_digest_crash.py) and the broadcast benchmark
(bench/broadcast.py)::

    now = dt.datetime.now(dt.UTC)
    import_content(data_dir, at=now - dt.timedelta(days=2))
    subs = due_subscriptions(40, now, last_sent_at=after_content(now))  # one-message digests
    write_subscriptions(data_dir, subs)
    register_chats(double, [s.chat_id for s in subs])
    ...  # run the bot
    assert set(digest_counts(double, chat_ids).values()) == {1}

Facts count as news from the day their content says they were updated, whenever they are
imported (bot/store/facts.py). Subscribers whose last digest came after the content
(``last_sent_at=after_content(now)``) are owed the one-message "no new developments" note;
those whose last digest predates it (``last_sent_at=before_content()``) the full digest,
several messages.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from bot.content.loader import content_digest, load_library
from bot.core.domain import Lang, Subscription
from bot.i18n.translator import translator
from bot.store.atomic import AtomicJSONStorage
from bot.store.facts import FactStore
from bot.store.journal import load_tables, read_journal
from bot.store.ledger import JOURNAL_FILE
from bot.store.subscriptions import _doc, _from_doc
from bot.store.users import TABLE_KEYS, USERS_FILE, UserStore
from tests.conftest import CONTENT
from tests.support.botapi_double import BotApiDouble, SentMessage

FIRST_CHAT = 1001
# The digest title up to its date, in each language ("partnerbrief digest, ").
DIGEST_TITLES: tuple[str, ...] = tuple(
    translator(lang).gettext("partnerbrief digest, {date}").partition("{date}")[0]
    for lang in ("en", "fr")
)


def due_subscriptions(
    count: int,
    now: dt.datetime,
    *,
    first_chat: int = FIRST_CHAT,
    langs: Sequence[Lang] = ("en", "fr"),
    last_sent_at: dt.datetime | None = None,
) -> list[Subscription]:
    """``count`` active private-chat subscribers, chat ids from ``first_chat``, all due at ``now``.

    Their digest time is two minutes before ``now`` in UTC and they subscribed and last got a
    digest a day ago (or at ``last_sent_at``), so the sweep at ``now`` (and for six hours after)
    owes each one digest. Languages alternate through ``langs``.
    """
    at = (now - dt.timedelta(minutes=2)).astimezone(dt.UTC)
    day_ago = now - dt.timedelta(days=1)
    last_digest = last_sent_at or day_ago
    return [
        Subscription(
            chat_id=chat_id,
            user_id=chat_id,
            at=dt.time(at.hour, at.minute),
            zone="UTC",
            lang=lang,
            locale=lang,
            since=min(day_ago, last_digest),
            last_sent_at=last_digest,
        )
        for chat_id, lang in zip(
            range(first_chat, first_chat + count), itertools.cycle(langs), strict=False
        )
    ]


def before_content(content_dir: Path = CONTENT) -> dt.datetime:
    """A moment before every fact of ``content_dir`` was updated: a digest sent then has not
    seen any of them."""
    first = min(f.updated for f in load_library(content_dir).facts.values())
    return dt.datetime.combine(first, dt.time(), dt.UTC) - dt.timedelta(days=1)


def after_content(now: dt.datetime, content_dir: Path = CONTENT) -> dt.datetime:
    """The latest of a day before ``now`` and a moment after every fact of ``content_dir``
    became news (when imported before its day, as :func:`import_content` does): a digest
    sent then has seen them all, whatever the date of the run."""
    last = max(f.updated for f in load_library(content_dir).facts.values())
    seen_all = dt.datetime.combine(last, dt.time(), dt.UTC) + dt.timedelta(seconds=1)
    return max(now - dt.timedelta(days=1), min(seen_all, now - dt.timedelta(minutes=5)))


def write_subscriptions(data_dir: Path, subs: Iterable[Subscription]) -> None:
    """Adds the subscriptions to ``users.json`` in one atomic write.

    SubscriptionStore.put rewrites the whole file per subscriber (minutes for 10,000), so the
    documents are inserted in one go, serialised by the store's own ``_doc``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    db = TinyDB(data_dir / USERS_FILE, storage=AtomicJSONStorage)
    try:
        db.table("subscriptions").insert_multiple(_doc(sub) for sub in subs)
    finally:
        db.close()


def read_subscriptions(data_dir: Path) -> list[Subscription]:
    """The subscriptions in ``users.json`` and its journal, as the bot's store reads them."""
    docs = load_tables(data_dir / USERS_FILE, TABLE_KEYS)["subscriptions"]
    return [_from_doc(doc) for doc in docs.values()]


def import_content(data_dir: Path, *, at: dt.datetime, content_dir: Path = CONTENT) -> None:
    """Imports content/ into the data directory as the bot does at start, dated ``at``.

    The bot then finds the store up to date and keeps those dates: a digest for someone who
    last got one after ``at`` has nothing new and is a single message.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    facts = FactStore(data_dir)
    try:
        facts.import_library(load_library(content_dir), content_digest(content_dir), at)
    finally:
        facts.close()


def register_chats(double: BotApiDouble, chat_ids: Iterable[int]) -> None:
    """Makes each private chat known to the double, as Telegram knows a subscriber's chat.

    The double learns chats from updates; each user here (re)starts the bot, the
    ``my_chat_member`` update Telegram sends then. The bot has no handler for it and ignores it.
    """
    bot_user: dict[str, Any] = {
        "id": double.bot_id,
        "is_bot": True,
        "first_name": "partnerbrief",
        "username": double.bot_username,
    }
    for chat_id in chat_ids:
        user = {"id": chat_id, "is_bot": False, "first_name": f"Reader {chat_id}"}
        double.send_update(
            {
                "my_chat_member": {
                    "chat": {"id": chat_id, "first_name": user["first_name"], "type": "private"},
                    "from": user,
                    "date": int(time.time()),
                    "old_chat_member": {"status": "left", "user": bot_user},
                    "new_chat_member": {"status": "member", "user": bot_user},
                }
            }
        )


def is_digest(message: SentMessage) -> bool:
    """True for the first (or only) message of a digest: it starts with the digest title."""
    return message.plain_text.startswith(DIGEST_TITLES)


def digest_counts(double: BotApiDouble, chat_ids: Iterable[int]) -> dict[int, int]:
    """How many digests each chat received (messages that start with a digest title)."""
    return {
        chat_id: sum(is_digest(message) for message in double.messages(chat_id))
        for chat_id in chat_ids
    }


def journal_parts(data_dir: Path) -> dict[int, int | None]:
    """Per chat, the parts of its digest the journal knows were delivered (None: all of it)."""
    return {
        int(entry["chat"]): None if entry["status"] == "sent" else int(entry.get("parts", 0))
        for entry in _journal_entries(data_dir)
    }


def journal_statuses(data_dir: Path) -> dict[int, str]:
    """The latest status per chat in the delivery journal, read as a restarted bot replays it.

    Safe to call while the bot runs: a line still being written is skipped, as the ledger
    does with a torn last line.
    """
    return {int(entry["chat"]): str(entry["status"]) for entry in _journal_entries(data_dir)}


def _journal_entries(data_dir: Path) -> list[dict[str, Any]]:
    """The delivery entries in the ledger's journal, in order, as the bot replays them."""
    return [doc for _, _, doc in read_journal(data_dir / JOURNAL_FILE) if doc is not None]


def seed_postgres(url: str, subs: Iterable[Subscription], *, content_at: dt.datetime) -> None:
    """The same as import_content and write_subscriptions, on a PostgreSQL database: content
    imported at ``content_at``, the subscriptions written in one transaction."""
    from bot.store.pg.backend import PgBackend

    backend = PgBackend(url)
    try:
        facts = FactStore(backend)
        facts.import_library(load_library(CONTENT), content_digest(CONTENT), content_at)
        facts.close()
        users = UserStore(backend)
        users.tables.put_many("subscriptions", {str(s.chat_id): _doc(s) for s in subs})
        users.close()
        assert backend.settle(timeout=60)
    finally:
        backend.close()
