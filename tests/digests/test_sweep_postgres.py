"""While PostgreSQL is away the sweep sends nothing it could not record; once it is back the
digests that waited go out, each once."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.core.domain import Library, Subscription
from bot.digests.sweep import DigestService
from bot.store.ledger import Ledger
from bot.store.pg.backend import PgBackend
from bot.store.subscriptions import SubscriptionStore
from bot.store.users import UserStore
from tests.digests.test_digests import BEFORE, MORNING, RecordingSender
from tests.support.postgres import PostgresServer


async def test_digests_wait_for_the_database_and_resume(
    library: Library, own_postgres: PostgresServer
) -> None:
    backend = PgBackend(own_postgres.new_database())
    users = UserStore(backend)
    subs = SubscriptionStore(users.tables)
    for chat in (1, 2):
        subs.put(
            Subscription(chat, chat, dt.time(7, 30), "Europe/Paris", "fr", "fr", BEFORE, BEFORE)
        )
    ledger = Ledger(backend, today=MORNING.date)
    assert backend.settle()
    service = DigestService(lambda: library, subs, ledger)
    sender = RecordingSender()
    own_postgres.stop("immediate")
    ledger.record(99, MORNING.date(), "skipped", MORNING)  # a write the writer cannot commit
    for _ in range(600):
        if not backend.ready:
            break
        await asyncio.sleep(0.05)
    waiting = await service.sweep(sender, MORNING)
    assert waiting.counts == {"waiting": 1} and sender.sent == []
    own_postgres.start()
    assert backend.settle(timeout=30)
    later = MORNING + dt.timedelta(minutes=1)
    report = await service.sweep(sender, later)
    assert report.counts == {"sent": 2}
    assert sorted(chat for chat, _ in sender.sent) == [1, 2]
    assert (await service.sweep(sender, later)).counts == {}, "each once"
    ledger.close()
    users.close()
    backend.close()
