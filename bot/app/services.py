"""Long-lived resources, opened once and closed once, shared by every adapter."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from bot.app.admin import Admin
from bot.app.charts import ChartCache
from bot.app.flood import FloodGuard
from bot.app.router import Router
from bot.app.stats import Stats
from bot.config import Settings
from bot.content.lexicon import Lexicon, load_lexicon
from bot.content.loader import content_digest, load_library
from bot.core.clock import Clock
from bot.core.domain import Lang, Library, Who
from bot.core.editorial import Approved, merge_library
from bot.digests.fleet import FleetDigests
from bot.digests.subscribing import Subscribing
from bot.digests.sweep import DigestService
from bot.i18n.languages import Languages, Preferences
from bot.i18n.translator import Translator, check_catalogs, translator
from bot.newsroom.corrections import Corrections
from bot.newsroom.drafting import LLMDrafter
from bot.newsroom.feeds import feeds_in_force
from bot.newsroom.fetch import new_client
from bot.newsroom.poller import Intake
from bot.newsroom.relevance import Relevance
from bot.newsroom.review import Review
from bot.qa.deciding import Confirmer
from bot.qa.dense import shared_embedder
from bot.qa.engine import QuestionEngine
from bot.qa.grounding import unsupported_numbers
from bot.qa.llm_client import ChatClient, LLMSettings
from bot.qa.memory import CHATS, DEFAULT_TTL, ChatMemory
from bot.qa.memory import TABLE_KEYS as CHAT_KEYS
from bot.qa.phrasing import Phraser
from bot.qa.retrieval.dictionary import everyday_words
from bot.qa.retrieval.index import FactIndex
from bot.store.atomic import StoreCorrupted, quarantine_corrupted
from bot.store.broadcasts import BroadcastStore
from bot.store.bulk import paused_collector
from bot.store.candidates import NEWSROOM_FILE, CandidateStore
from bot.store.editorial import EDITORIAL_FILE, CorrectionRun, EditorialStore
from bot.store.facts import FACTS_FILE, FactStore, ImportReport
from bot.store.journal import journal_path
from bot.store.ledger import LEDGER_FILE, Ledger
from bot.store.lock import DataDirLock
from bot.store.pg.backend import PgBackend
from bot.store.pg.queue import DeliveryQueue
from bot.store.pg.sendrate import SharedSendRate
from bot.store.pg.shared import SharedPool
from bot.store.receipts import RECEIPTS_FILE, ReceiptStore
from bot.store.subscriptions import SubscriptionStore
from bot.store.tables import Backend, Tables, TinyDBBackend
from bot.store.users import USERS_FILE, UserStore

log = logging.getLogger(__name__)
_S = TypeVar("_S")
# The data directory's databases, checked at start-up (a corrupted one is moved aside).
STORE_FILES = (FACTS_FILE, USERS_FILE, LEDGER_FILE, NEWSROOM_FILE, EDITORIAL_FILE, RECEIPTS_FILE)
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
    latest: Callable[[], list[str]] | None = None,
    memory: ChatMemory | None = None,
    semantic: bool = True,
) -> Conversation:
    """The one wiring of router, engine and languages: the application and the CLI's one-shot
    commands (which take no data-directory lock) both build theirs here."""
    languages = Languages(prefs, lang)
    engine = None
    if index is not None:
        # The semantic second opinion is on wherever its bundled model loads (qa/dense.py),
        # unless the operator turned it off (BOT_SEMANTIC=0).
        confirmer = confirmer or Confirmer(shared_embedder() if semantic else None)
        # Loaded now, once per process, rather than on the first question (about 1.3 s).
        everyday_words()
        engine = QuestionEngine(index, languages, stats=stats, confirmer=confirmer, memory=memory)
    router = Router(library, languages, engine=engine, subscribing=subscribing, latest=latest)
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
        backend: Backend,
        candidates: CandidateStore,
        editorial: EditorialStore,
        receipts: ReceiptStore,
        ledger: Ledger,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.lock = lock  # TinyDB's data directory only: PostgreSQL is shared by replicas
        self.backend = backend
        self.facts = facts
        self.users = users
        # The newsroom's stories (newsroom.json), for the intake and for editors alike.
        self.candidates = candidates
        self.editorial = editorial
        self.receipts = receipts
        self._knowledge = Knowledge.of(self._served(), load_lexicon(settings.content_dir))
        self._relevance: tuple[Knowledge, Relevance] | None = None
        self._feed_parser: ProcessPoolExecutor | None = None
        # None unless the newsroom is on (BOT_NEWSROOM=1 or BOT_FEEDS): the poller's client is
        # built here, once, and closed in aclose() with the other network clients.
        self.intake = self._intake(settings, clock)
        self.flood = FloodGuard()
        self.charts = ChartCache()  # rendered charts and their Telegram file_ids
        self.stats = Stats()
        self.subscriptions = SubscriptionStore(users.tables)
        self.broadcasts = BroadcastStore(users.tables)
        self.ledger = ledger
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
            told=self.receipts.record,
        )
        # Several replicas share PostgreSQL: digests go through its queue, every send through
        # its rate (bot/digests/fleet.py, bot/store/pg/sendrate.py). None on TinyDB.
        self.fleet: FleetDigests | None = None
        self.send_rate: SharedSendRate | None = None
        self._shared_pool: SharedPool | None = None
        if settings.database_url and self.backend.kind == "postgresql":
            self._shared_pool = SharedPool(settings.database_url)
            self.fleet = FleetDigests(
                self.digests,
                DeliveryQueue(self._shared_pool, lease=settings.delivery_lease),
                self.subscriptions,
                catch_up=dt.timedelta(hours=settings.digest_catch_up_hours),
                stats=self.stats,
                on_claim=self.stats.claim_seconds.observe,
            )
            self.send_rate = SharedSendRate(self._shared_pool, settings.send_rate)
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
            latest=self.latest_approved,
            semantic=settings.semantic,
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
            feeds=self.intake.statuses if self.intake is not None else None,
            candidates=self.candidates,
        )
        # None unless LLM_BASE_URL is set: the extractive answer is the embedded default.
        self.phraser = Phraser.from_settings(settings, clock)
        self.corrections = Corrections(
            self.editorial,
            self.receipts,
            self.library,
            self.translator_for_chat,
            self.backend,
            clock,
        )
        self._drafting_http, drafter = _drafter(settings, clock)
        self.review = Review(
            self.candidates,
            self.editorial,
            self.library,
            clock,
            matches=lambda text, lang: self.engine.lookup(text, lang, 5),
            publish=self.publish,
            drafter=drafter,
        )
        self.admin.review = self.review
        facts.observe(self._facts_changed)
        # Another replica's approval: served here too (PostgreSQL only).
        self.editorial.on_approved(self._facts_changed)
        self._applying = False

    def _intake(self, settings: Settings, clock: Clock) -> Intake | None:
        if not settings.newsroom:
            return None
        # One worker process, started at the first body to parse (spawned: a fork of this
        # threaded process could inherit a held lock), shut down in aclose().
        self._feed_parser = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        return Intake(
            feeds_in_force(settings),
            self.candidates,
            new_client(settings.feed_timeout),
            clock,
            self.relevance,
            timeout=settings.feed_timeout,
            max_bytes=settings.feed_max_bytes,
            parser=self._feed_parser,
        )

    def relevance(self) -> Relevance:
        """What makes a feed item news for us, from the content in force (rebuilt after a
        reload: new facts may name new entities)."""
        knowledge = self._knowledge
        if self._relevance is None or self._relevance[0] is not knowledge:
            self._relevance = (knowledge, Relevance.of(knowledge.library, knowledge.lexicon))
        return self._relevance[1]

    def _facts_changed(self) -> None:
        """Another replica imported content or approved a fact: answer from it here too."""
        self._knowledge = Knowledge.of(self._served(), self._knowledge.lexicon)
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
        for the other replicas' writes (see follow_changes).

        Exception-safe: when a later store fails to open, the stores already opened are
        closed and the data-directory lock released (or the database let go), in reverse
        order, before the error goes up (the CLI turns StoreCorrupted into exit code 6)."""
        check_catalogs()
        data_dir = settings.data_dir
        # Loading a million subscribers allocates millions of objects: the cyclic collector
        # waits (see bulk.py; post_init then freezes what was loaded).
        with paused_collector(), ExitStack() as opened:
            lock: DataDirLock | None = None
            stamp: str | None = None
            backend: Backend
            if settings.database_url:
                pg = PgBackend(settings.database_url, spill_dir=data_dir, follow=follow)
                opened.callback(pg.close)
                backend = pg
            else:
                lock = DataDirLock(data_dir)
                lock.acquire()
                opened.callback(lock.release)
                stamp = clock().strftime("%Y%m%dT%H%M%SZ")
                quarantine_corrupted(data_dir, STORE_FILES, stamp)
                backend = TinyDBBackend(data_dir)

            def readable(name: str, opener: Callable[[Backend], _S]) -> _S:
                if stamp is None:  # PostgreSQL: no file to move aside
                    return opener(backend)
                return _readable(data_dir, name, stamp, lambda _: opener(backend))

            facts = opened.enter_context(closing(FactStore(backend)))
            report = sync_content(facts, settings, clock())
            if report is not None:
                log.info(
                    "content imported: %d added, %d changed, %d removed, %d unchanged",
                    len(report.added),
                    len(report.changed),
                    len(report.removed),
                    report.unchanged,
                )
            users = opened.enter_context(closing(readable(USERS_FILE, UserStore)))
            candidates = opened.enter_context(
                closing(readable(NEWSROOM_FILE, CandidateStore.open))
            )
            editorial = opened.enter_context(
                closing(readable(EDITORIAL_FILE, EditorialStore.open))
            )
            receipts = opened.enter_context(closing(readable(RECEIPTS_FILE, ReceiptStore.open)))
            ledger = Ledger(backend, today=lambda: clock().date())
            opened.enter_context(closing(ledger))
            services = cls(
                settings,
                lock,
                facts,
                users,
                clock,
                backend,
                candidates,
                editorial,
                receipts,
                ledger,
            )
            opened.pop_all()  # open: from here on aclose()/close() own them
            return services

    def reload(self) -> ImportReport:
        """Re-read content/ (for /reload): import what changed and swap in the new index."""
        library = load_library(self.settings.content_dir)
        lexicon = load_lexicon(self.settings.content_dir)
        report = self.facts.import_library(
            library, content_digest(self.settings.content_dir), self.clock()
        )
        self._knowledge = Knowledge.of(self._served(), lexicon)  # one atomic swap
        return report

    def _served(self) -> Library:
        """content/ as imported, with every approved fact joined in."""
        return merge_library(self.facts.library(), self.editorial.approved())

    def publish(self, approved: Approved) -> CorrectionRun | None:
        """An approval goes live: the Library (index, briefings, digests) is rebuilt with it
        in one swap, and the corrections it owes are planned."""
        self._knowledge = Knowledge.of(self._served(), self._knowledge.lexicon)
        return self.corrections.plan(approved)

    def latest_approved(self, limit: int = 5) -> list[str]:
        """The ids of the last approved facts the Library serves, newest first."""
        served = self.library().facts
        ids = [a.fact.id for a in reversed(self.editorial.approved())]
        return [f for f in ids if f in served][:limit]

    def translator_for_chat(self, chat_id: int) -> Translator:
        """A chat's language: its digest's when it has one, else the reader's choice, else the
        language we last told it facts in."""
        sub = self.subscriptions.get(chat_id)
        if sub is not None:
            return translator(sub.lang, sub.locale)
        told = self.receipts.lang(chat_id)
        if self.languages.chosen(chat_id) is None and told in ("fr", "en"):
            return translator("fr" if told == "fr" else "en")
        return self.languages.translator_for(Who(chat_id))

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
        """Close the LLM and feed clients, then the stores."""
        if self.phraser is not None:
            await self.phraser.aclose()
            self.phraser = None
        if self._drafting_http is not None:
            await self._drafting_http.aclose()
            self._drafting_http = None
        if self.intake is not None:
            await self.intake.aclose()
        if self._feed_parser is not None:
            # Off the loop: a parse under way finishes first (a fraction of a second).
            await asyncio.to_thread(self._feed_parser.shutdown, True, cancel_futures=True)
            self._feed_parser = None
        if self._shared_pool is not None:
            await self._shared_pool.close()
        self.close()

    def close(self) -> None:
        if isinstance(self.backend, PgBackend):
            self.backend.on_remote(None)
        self.receipts.close()
        self.editorial.close()
        self.candidates.close()
        self.ledger.close()
        if self._chat_tables is not None:
            self._chat_tables.close()
        self.users.close()
        self.facts.close()
        if isinstance(self.backend, PgBackend):
            self.backend.close()
        if self.lock is not None:
            self.lock.release()


def _readable(data_dir: Path, name: str, stamp: str, opener: Callable[[Path], _S]) -> _S:
    """A store opened by ``opener``; one whose documents do not read as the store's (valid
    JSON, wrong shape) is moved aside like a file that does not parse, and StoreCorrupted
    raised."""
    try:
        return opener(data_dir)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        path = data_dir / name
        moved = []
        for damaged in (path, journal_path(path)):
            if damaged.exists():
                damaged.rename(damaged.with_name(f"{damaged.name}.corrupt-{stamp}"))
                moved.append(f"{damaged.name}.corrupt-{stamp}")
        raise StoreCorrupted(
            path,
            f"a document does not read ({type(exc).__name__}: {exc}); moved aside to "
            f"{', '.join(moved) or 'nothing'}. Restore it from a backup, or start again to "
            "begin with an empty file",
        ) from exc


def _drafter(
    settings: Settings, clock: Clock
) -> tuple[httpx.AsyncClient | None, LLMDrafter | None]:
    """The newsroom's drafting model when LLM_BASE_URL is set: its own client, since a draft
    is longer than an answer and must not count against readers' hourly limit."""
    if not settings.llm_base_url:
        return None, None
    llm = LLMSettings(
        base_url=settings.llm_base_url,
        model=settings.llm_model or "default",
        api_key=settings.llm_api_key,
        deadline=settings.llm_deadline,
        max_tokens=800,
    )
    http = ChatClient.new_http_client(llm)
    return http, LLMDrafter(ChatClient(llm, http, clock=clock), unsupported_numbers)
