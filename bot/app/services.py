"""Long-lived resources, opened once and closed once, shared by every adapter."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.app.admin import Admin
from bot.app.charts import ChartCache
from bot.app.flood import FloodGuard
from bot.app.router import Router
from bot.app.stats import Stats
from bot.config import Settings
from bot.content.lexicon import Lexicon, load_lexicon
from bot.content.loader import content_digest, load_library
from bot.core.clock import Clock
from bot.core.domain import Lang, Library
from bot.digests.subscribing import Subscribing
from bot.digests.sweep import DigestService
from bot.i18n.languages import Languages, Preferences
from bot.i18n.translator import check_catalogs
from bot.qa.deciding import Confirmer
from bot.qa.dense import shared_embedder
from bot.qa.engine import QuestionEngine
from bot.qa.memory import CHATS, DEFAULT_TTL, ChatMemory
from bot.qa.memory import TABLE_KEYS as CHAT_KEYS
from bot.qa.phrasing import Phraser
from bot.qa.retrieval.index import FactIndex
from bot.store.atomic import quarantine_corrupted
from bot.store.broadcasts import BroadcastStore
from bot.store.bulk import paused_collector
from bot.store.facts import FACTS_FILE, FactStore, ImportReport
from bot.store.ledger import LEDGER_FILE, Ledger
from bot.store.lock import DataDirLock
from bot.store.pg.backend import PgBackend
from bot.store.subscriptions import SubscriptionStore
from bot.store.tables import Backend, Tables, TinyDBBackend
from bot.store.users import USERS_FILE, UserStore

log = logging.getLogger(__name__)
# Groups of changes waiting for PostgreSQL beyond which /readyz says the replica is behind.
UNWRITTEN_BACKLOG = 10_000


def sync_content(facts: FactStore, settings: Settings, now: dt.datetime) -> ImportReport | None:
    """Import content/ when it changed since the last import; None when it did not."""
    digest = content_digest(settings.content_dir)
    if digest == facts.content_digest() and not facts.is_empty():
        return None
    return facts.import_library(load_library(settings.content_dir), digest, now)


@dataclass(frozen=True)
class Knowledge:
    """What content/ says, as one value: a reload swaps all three in a single assignment, so a
    reader never sees a library from one content version beside an index from another."""

    library: Library
    lexicon: Lexicon
    index: FactIndex

    @classmethod
    def of(cls, library: Library, lexicon: Lexicon) -> Knowledge:
        return cls(library, lexicon, FactIndex(library, lexicon))


def default_lang(settings: Settings) -> Lang:
    return "fr" if settings.default_lang == "fr" else "en"


@dataclass(frozen=True)
class Conversation:
    """The router and the question engine, built together (the engine is None without an
    index: ``brief`` needs none)."""

    router: Router
    engine: QuestionEngine | None
    languages: Languages


def build_conversation(
    library: Callable[[], Library],
    prefs: Preferences,
    lang: Lang,
    *,
    index: Callable[[], FactIndex] | None = None,
    subscribing: Subscribing | None = None,
    stats: Stats | None = None,
    confirmer: Confirmer | None = None,
    memory: ChatMemory | None = None,
) -> Conversation:
    """The one wiring of router, engine and languages: the application and the CLI's one-shot
    commands (which take no data-directory lock) both build theirs here."""
    languages = Languages(prefs, lang)
    engine = None
    if index is not None:
        # The semantic second opinion is on wherever its bundled model loads (qa/dense.py).
        confirmer = confirmer or Confirmer(shared_embedder())
        engine = QuestionEngine(index, languages, stats=stats, confirmer=confirmer, memory=memory)
    router = Router(library, languages, engine=engine, subscribing=subscribing)
    return Conversation(router, engine, languages)


class Services:
    """The composition root: the opened stores and everything built on them, built once."""

    def __init__(
        self,
        settings: Settings,
        lock: DataDirLock | None,
        facts: FactStore,
        users: UserStore,
        clock: Clock,
        backend: Backend | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.lock = lock  # TinyDB's data directory only: PostgreSQL is shared by replicas
        self.backend: Backend = backend or TinyDBBackend(settings.data_dir)
        self.facts = facts
        self.users = users
        self._knowledge = Knowledge.of(facts.library(), load_lexicon(settings.content_dir))
        self.flood = FloodGuard()
        self.charts = ChartCache()  # rendered charts and their Telegram file_ids
        self.stats = Stats()
        self.subscriptions = SubscriptionStore(users.tables)
        self.broadcasts = BroadcastStore(users.tables)
        self.ledger = Ledger(self.backend, today=lambda: clock().date())
        self._chat_tables: Tables | None = None
        memory = None
        if self.backend.kind != "tinydb":
            # Follow-ups may reach any replica: the memory they lean on lives in the store.
            def seconds() -> float:
                return clock().timestamp()

            self._chat_tables = self.backend.open_tables(
                CHATS, CHAT_KEYS, keep=lambda _, doc: seconds() - float(doc["at"]) <= DEFAULT_TTL
            )
            memory = ChatMemory(clock=seconds, tables=self._chat_tables)
        self.digests = DigestService(
            self.library,
            self.subscriptions,
            self.ledger,
            catch_up=dt.timedelta(hours=settings.digest_catch_up_hours),
            stats=self.stats,
        )
        # Getters, so that a later content reload is seen by the conversation at once.
        conversation = build_conversation(
            self.library,
            users,
            default_lang(settings),
            index=self.index,
            stats=self.stats,
            memory=memory,
            subscribing=Subscribing(
                self.subscriptions, clock, topics=lambda: self.library().topics
            ),
        )
        self.router = conversation.router
        self.languages = conversation.languages
        assert conversation.engine is not None  # built with an index
        self.engine = conversation.engine
        self.admin = Admin(
            settings.admin_ids,
            self.backend,
            users=users,
            subscriptions=self.subscriptions,
            broadcasts=self.broadcasts,
            ledger=self.ledger,
            stats=self.stats,
            clock=clock,
            reload=self.reload,
        )
        # None unless LLM_BASE_URL is set: the extractive answer is the embedded default.
        self.phraser = Phraser.from_settings(settings, clock)
        facts.observe(self._facts_changed)
        self._applying = False

    def _facts_changed(self) -> None:
        """Another replica imported content: answer from it here too."""
        self._knowledge = Knowledge.of(self.facts.library(), self._knowledge.lexicon)
        log.info("facts changed by another replica: the index is rebuilt")

    async def fresh(self) -> None:
        """Before an update is handled: apply what other replicas committed before it (one
        query on PostgreSQL, at most 250 ms; nothing on TinyDB). A reader's next message may
        reach another replica milliseconds after the last one was answered here."""
        if isinstance(self.backend, PgBackend):
            await self.backend.fresh()

    def follow_changes(self, loop: asyncio.AbstractEventLoop) -> None:
        """Apply the other replicas' writes on ``loop``, the thread that reads the stores (a
        no-op on TinyDB). Until this is called they wait, fetched but not applied."""
        if not isinstance(self.backend, PgBackend):
            return
        backend = self.backend

        def apply() -> None:
            self._applying = False
            backend.apply_remote()

        def wake() -> None:  # on the backend's thread
            if self._applying:
                return
            self._applying = True
            with contextlib.suppress(RuntimeError):  # the loop closed: nothing to apply to
                loop.call_soon_threadsafe(apply)

        backend.on_remote(wake)

    @classmethod
    def open(cls, settings: Settings, clock: Clock, *, follow: bool = True) -> Services:
        """Check catalogs, open the store (own the data directory, or connect to PostgreSQL
        and migrate it), bring the fact store up to date. ``follow``: on PostgreSQL, listen
        for the other replicas' writes (see follow_changes)."""
        check_catalogs()
        if settings.database_url:
            pg = PgBackend(settings.database_url, spill_dir=settings.data_dir, follow=follow)
            try:
                return cls._open_on(settings, clock, None, pg)
            except BaseException:
                pg.close()
                raise
        lock = DataDirLock(settings.data_dir)
        lock.acquire()
        try:
            stamp = clock().strftime("%Y%m%dT%H%M%SZ")
            quarantine_corrupted(settings.data_dir, (FACTS_FILE, USERS_FILE, LEDGER_FILE), stamp)
            return cls._open_on(settings, clock, lock, TinyDBBackend(settings.data_dir))
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_on(
        cls, settings: Settings, clock: Clock, lock: DataDirLock | None, backend: Backend
    ) -> Services:
        # Loading a million subscribers allocates millions of objects: the cyclic collector
        # waits (see bulk.py; post_init then freezes what was loaded).
        with paused_collector():
            return cls._build(settings, clock, lock, backend)

    @classmethod
    def _build(
        cls, settings: Settings, clock: Clock, lock: DataDirLock | None, backend: Backend
    ) -> Services:
        facts = FactStore(backend)
        try:
            report = sync_content(facts, settings, clock())
            if report is not None:
                log.info(
                    "content imported: %d added, %d changed, %d removed, %d unchanged",
                    len(report.added),
                    len(report.changed),
                    len(report.removed),
                    report.unchanged,
                )
            users = UserStore(backend)
        except BaseException:
            facts.close()
            raise
        try:
            return cls(settings, lock, facts, users, clock, backend)
        except BaseException:
            users.close()
            facts.close()
            raise

    def reload(self) -> ImportReport:
        """Re-read content/ (for /reload): import what changed and swap in the new index."""
        library = load_library(self.settings.content_dir)
        lexicon = load_lexicon(self.settings.content_dir)
        report = self.facts.import_library(
            library, content_digest(self.settings.content_dir), self.clock()
        )
        self._knowledge = Knowledge.of(self.facts.library(), lexicon)  # one atomic swap
        return report

    async def database_problem(self) -> str | None:
        """Why the database does not answer now (for /readyz); None when it does, or when the
        store is the data directory's files."""
        if not isinstance(self.backend, PgBackend):
            return None
        problem = await self.backend.ping()
        if problem is None and not self.backend.ready:
            problem = f"PostgreSQL at {self.backend.target}: writes are waiting to be retried"
        if problem is None and self.backend.unwritten > UNWRITTEN_BACKLOG:
            count = self.backend.unwritten
            problem = f"PostgreSQL at {self.backend.target}: {count} writes waiting"
        return problem

    def knowledge(self) -> Knowledge:
        """The current content: read it once per request and use that one value."""
        return self._knowledge

    def library(self) -> Library:
        return self._knowledge.library

    def index(self) -> FactIndex:
        return self._knowledge.index

    async def aclose(self) -> None:
        """Close the LLM client, then the stores."""
        if self.phraser is not None:
            await self.phraser.aclose()
            self.phraser = None
        self.close()

    def close(self) -> None:
        if isinstance(self.backend, PgBackend):
            self.backend.on_remote(None)
        self.ledger.close()
        if self._chat_tables is not None:
            self._chat_tables.close()
        self.users.close()
        self.facts.close()
        if isinstance(self.backend, PgBackend):
            self.backend.close()
        if self.lock is not None:
            self.lock.release()
