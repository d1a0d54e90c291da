"""Long-lived resources, opened once and closed once, shared by every adapter."""

from __future__ import annotations

import datetime as dt
import logging

from bot.app.admin import Admin
from bot.app.chat import Conversation
from bot.app.flood import FloodGuard
from bot.app.stats import Stats
from bot.config import Settings
from bot.content.lexicon import load_lexicon
from bot.content.loader import content_digest, load_library
from bot.core.clock import Clock
from bot.core.domain import Lang, Library
from bot.digests.subscribing import Subscribing
from bot.digests.sweep import DigestService
from bot.i18n.translator import check_catalogs
from bot.qa.phrasing import Phraser
from bot.qa.retrieval.index import FactIndex
from bot.store.atomic import quarantine_corrupted
from bot.store.broadcasts import BroadcastStore
from bot.store.facts import FACTS_FILE, FactStore, ImportReport
from bot.store.ledger import LEDGER_FILE, Ledger
from bot.store.lock import DataDirLock
from bot.store.subscriptions import SubscriptionStore
from bot.store.users import USERS_FILE, UserStore

log = logging.getLogger(__name__)


def sync_content(facts: FactStore, settings: Settings, now: dt.datetime) -> ImportReport | None:
    """Import content/ when it changed since the last import; None when it did not."""
    digest = content_digest(settings.content_dir)
    if digest == facts.content_digest() and not facts.is_empty():
        return None
    return facts.import_library(load_library(settings.content_dir), digest, now)


class Services:
    """The opened stores and the conversation built on them."""

    def __init__(
        self,
        settings: Settings,
        lock: DataDirLock,
        facts: FactStore,
        users: UserStore,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.lock = lock
        self.facts = facts
        self.users = users
        self.library: Library = facts.library()
        self.lexicon = load_lexicon(settings.content_dir)
        self.index = FactIndex(self.library, self.lexicon)
        default: Lang = "fr" if settings.default_lang == "fr" else "en"
        self.flood = FloodGuard()
        self.stats = Stats()
        self.subscriptions = SubscriptionStore(users.tables)
        self.broadcasts = BroadcastStore(users.tables)
        self.ledger = Ledger(settings.data_dir, today=lambda: clock().date())
        self.digests = DigestService(
            lambda: self.library,
            self.subscriptions,
            self.ledger,
            catch_up=dt.timedelta(hours=settings.digest_catch_up_hours),
            stats=self.stats,
        )
        # Getters, so that a later content reload is seen by the conversation at once.
        self.conversation = Conversation(
            lambda: self.library,
            users,
            default,
            index=lambda: self.index,
            stats=self.stats,
            subscribing=Subscribing(self.subscriptions, clock),
        )
        self.admin = Admin(self)
        # None unless LLM_BASE_URL is set: the extractive answer is the embedded default.
        self.phraser = Phraser.from_settings(settings, clock)

    @classmethod
    def open(cls, settings: Settings, clock: Clock) -> Services:
        """Check catalogs, own the data directory, bring the fact store up to date."""
        check_catalogs()
        lock = DataDirLock(settings.data_dir)
        lock.acquire()
        try:
            stamp = clock().strftime("%Y%m%dT%H%M%SZ")
            quarantine_corrupted(settings.data_dir, (FACTS_FILE, USERS_FILE, LEDGER_FILE), stamp)
            facts = FactStore(settings.data_dir)
            report = sync_content(facts, settings, clock())
            if report is not None:
                log.info(
                    "content imported: %d added, %d changed, %d removed, %d unchanged",
                    len(report.added),
                    len(report.changed),
                    len(report.removed),
                    report.unchanged,
                )
            users = UserStore(settings.data_dir)
        except BaseException:
            lock.release()
            raise
        try:
            return cls(settings, lock, facts, users, clock)
        except BaseException:
            users.close()
            facts.close()
            lock.release()
            raise

    def reload(self) -> ImportReport:
        """Re-read content/ (for /reload): import what changed and swap in the new index."""
        library = load_library(self.settings.content_dir)
        lexicon = load_lexicon(self.settings.content_dir)
        report = self.facts.import_library(
            library, content_digest(self.settings.content_dir), self.clock()
        )
        self.library = self.facts.library()
        self.lexicon = lexicon
        self.index = FactIndex(self.library, lexicon)
        return report

    async def aclose(self) -> None:
        """Close the LLM client, then the stores."""
        if self.phraser is not None:
            await self.phraser.aclose()
            self.phraser = None
        self.close()

    def close(self) -> None:
        self.ledger.close()
        self.users.close()
        self.facts.close()
        self.lock.release()
