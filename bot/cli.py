"""The command line: ``python -m bot [run|console|brief|ask|digest|content …|store migrate]``."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.app.logsetup import configure_logging
from bot.app.services import build_conversation, default_lang
from bot.compose.digest import compose_digest, quiet_digest
from bot.compose.render_text import render_plain
from bot.config import ConfigError, Settings
from bot.content.asked import check_asked
from bot.content.export import check_approved, export_yaml
from bot.content.feeds import FeedSpec, load_feeds
from bot.content.lexicon import Lexicon, load_lexicon
from bot.content.loader import ContentError, ContentInvalid, content_digest, load_library
from bot.content.seedmap import SEED_MAP_FILE, check_seed_map, seed_path
from bot.core.clock import Clock, system_clock
from bot.core.domain import BRIEFING_IDS, Lang, Library, Reply, Who
from bot.i18n.translator import CatalogMissing, Translator, check_catalogs, translator
from bot.qa.engine import Asked
from bot.qa.phrasing import Phrased, Phraser
from bot.qa.retrieval.index import FactIndex
from bot.store.atomic import StoreCorrupted
from bot.store.editorial import EditorialStore, read_approved
from bot.store.facts import FACTS_FILE, FactStore
from bot.store.lock import DataDirLock, DataDirLocked
from bot.store.pg.backend import DatabaseUnavailable, PgBackend
from bot.store.pg.migrate import MigrationFailed, SchemaTooNew
from bot.store.transfer import copy_to_postgres

EXIT_USAGE, EXIT_LOCKED, EXIT_CATALOG, EXIT_CONTENT, EXIT_STORE = 2, 3, 4, 5, 6
# PostgreSQL (DATABASE_URL): unreachable; migrated by a newer bot; a migration that failed.
EXIT_DATABASE, EXIT_SCHEMA_NEWER, EXIT_MIGRATION = 7, 8, 9
EXIT_POLLING_CONFLICT = 10  # another process long-polls this bot token


class _MemoryPrefs:
    """Preferences for one-shot commands, which must not need the data directory lock."""

    def __init__(self, lang: Lang | None) -> None:
        self._lang = lang

    def get_lang(self, user_id: int) -> Lang | None:
        return self._lang

    def set_lang(self, user_id: int, lang: Lang) -> None:
        self._lang = lang


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="partnerbrief: Telegram bot if TELEGRAM_BOT_TOKEN is set, else a console.",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the Telegram bot (long polling)")
    sub.add_parser("console", help="chat with the bot in this terminal")
    brief = sub.add_parser("brief", help="print a briefing")
    brief.add_argument("--topic", default="overview", help="overview, stakes, revenue, …")
    brief.add_argument("--lang", choices=("fr", "en"), default=None)
    ask = sub.add_parser("ask", help="answer one question from the fact store")
    ask.add_argument("question")
    ask.add_argument("--lang", choices=("fr", "en"), default=None)
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    digest = sub.add_parser("digest", help="print the digest a subscriber would get")
    digest.add_argument("--lang", choices=("fr", "en"), default="en")
    digest.add_argument(
        "--since",
        type=dt.date.fromisoformat,
        default=None,
        help="YYYY-MM-DD: what changed since that day (default: the last 24 hours)",
    )
    content = sub.add_parser("content", help="validate or import content/")
    content_sub = content.add_subparsers(dest="action", required=True)
    content_sub.add_parser("check", help="validate content/ and report file:line errors")
    content_sub.add_parser("load", help="import content/ into the fact store")
    export = content_sub.add_parser(
        "export", help="print the newsroom's approved facts as content/ YAML (sources, facts)"
    )
    export.add_argument("--out", type=Path, default=None, help="write to this file instead")
    store = sub.add_parser("store", help="move the stores between backends")
    store_sub = store.add_subparsers(dest="action", required=True)
    migrate = store_sub.add_parser(
        "migrate", help="copy BOT_DATA_DIR's TinyDB files into PostgreSQL (idempotent)"
    )
    migrate.add_argument("--from", dest="source", choices=("tinydb",), required=True)
    migrate.add_argument("--to", dest="target", required=True, help="a PostgreSQL URL")
    return parser


def main(argv: Sequence[str] | None = None, clock: Clock = system_clock) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        command = args.command or ("run" if settings.has_token else "console")
        _configure_logging(command, settings)
        return _dispatch(command, args, settings, clock)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DataDirLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except CatalogMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CATALOG
    except ContentInvalid as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONTENT
    except StoreCorrupted as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORE
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DATABASE
    except SchemaTooNew as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SCHEMA_NEWER
    except MigrationFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MIGRATION


def _configure_logging(command: str, settings: Settings) -> None:
    """Only the long-running bot logs progress; one-shot commands keep stdout for results.
    The secrets are masked in every record."""
    configure_logging(
        logging.INFO if command == "run" else logging.WARNING,
        secrets=(
            settings.telegram_token or "",
            settings.llm_api_key or "",
            settings.webhook_secret or "",
        ),
        fmt=settings.log_format,
    )


def _dispatch(command: str, args: argparse.Namespace, settings: Settings, clock: Clock) -> int:
    if command == "run":
        if not settings.has_token:
            print("error: set TELEGRAM_BOT_TOKEN (see .env.example)", file=sys.stderr)
            return EXIT_USAGE
        from bot.tg.app import run  # imported late: the console never loads telegram
        from bot.tg.polling import PollingConflict

        try:
            run(settings, clock)
        except PollingConflict as exc:
            print(f"error: another process polls this bot token: {exc}", file=sys.stderr)
            return EXIT_POLLING_CONFLICT
        return 0
    if command == "console":
        from bot.app.services import Services
        from bot.console import run_console

        # One person at a terminal: the other replicas' later writes are not followed.
        services = Services.open(settings, clock, follow=False)
        try:
            return run_console(services.router)
        finally:
            services.close()
    if command == "brief":
        return _brief(settings, args.topic, args.lang)
    if command == "digest":
        return _digest(settings, args.lang, args.since, clock())
    if command == "ask":
        return _ask(settings, args.question, args.lang, clock, as_json=args.json)
    if command == "store":
        return _store_migrate(settings, args.target)
    if args.action == "check":
        return _content_check(settings)
    if args.action == "export":
        return _content_export(settings, args.out)
    return _content_load(settings, clock())


def _content_export(settings: Settings, out: Path | None) -> int:
    """Approved facts as YAML, checked as content check checks facts.yaml (exit 5 if not)."""
    if settings.database_url:
        backend = PgBackend(settings.database_url)
        try:
            store = EditorialStore.open(backend)
            approved = store.approved()
            store.close()
        finally:
            backend.close()
    else:
        approved = read_approved(settings.data_dir)
    text = export_yaml(approved)
    errors = check_approved(approved, load_library(settings.content_dir))
    if out is None:
        print(text, end="")
    else:
        out.write_text(text, encoding="utf-8")
    for error in errors:
        print(error, file=sys.stderr)
    print(f"{len(approved)} approved facts exported", file=sys.stderr)
    return EXIT_CONTENT if errors else 0


def _content_check(settings: Settings) -> int:
    content_dir = settings.content_dir
    errors: list[ContentError] = []
    library: Library | None = None
    try:
        library = load_library(content_dir)
    except ContentInvalid as exc:
        errors.extend(exc.errors)
    # The seed map too, so that one run reports every problem; its seed lives beside the repo.
    map_path, root = content_dir / SEED_MAP_FILE, content_dir.resolve().parent
    errors.extend(check_seed_map(map_path, content_dir / "facts.yaml", root))
    if library is not None:
        errors.extend(check_asked(content_dir, library.facts))
    feeds: tuple[FeedSpec, ...] = ()
    try:
        feeds = load_feeds(content_dir, dt.timedelta(minutes=settings.feed_interval_minutes))
    except ContentInvalid as exc:
        errors.extend(exc.errors)
    if errors or library is None:
        raise ContentInvalid(errors)
    load_lexicon(content_dir)
    seed = seed_path(map_path, root)
    if seed is not None and not seed.is_file():
        print(
            f"note: seed article {seed} not found: skipped the seed comparison "
            f"(the seed map's fact ids were checked)",
            file=sys.stderr,
        )
    print(
        f"{content_dir}: OK ({len(library.facts)} facts, {len(library.sources)} "
        f"sources, {len(library.briefings)} briefings, {len(library.charts)} chart series, "
        f"{len(feeds)} feeds)"
    )
    return 0


def _brief(settings: Settings, topic: str, lang: Lang | None) -> int:
    check_catalogs()
    library = load_library(settings.content_dir)
    briefing_id = library.topic_for_alias(topic)
    if briefing_id is None:
        print(
            f"error: unknown topic {topic!r}; choose from {', '.join(BRIEFING_IDS)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    conversation = build_conversation(lambda: library, _MemoryPrefs(lang), default_lang(settings))
    print(render_plain(conversation.router.brief(Who(0, lang), briefing_id)))
    return 0


def _ask(
    settings: Settings, question: str, lang: Lang | None, clock: Clock, *, as_json: bool
) -> int:
    check_catalogs()
    library = load_library(settings.content_dir)
    index = FactIndex(library, load_lexicon(settings.content_dir))
    conversation = build_conversation(
        lambda: library,
        _MemoryPrefs(None),
        default_lang(settings),
        index=lambda: index,
        semantic=settings.semantic,
    )
    engine = conversation.engine
    assert engine is not None  # built with an index
    who = Who(0, None)
    refusal = engine.refuse(who, question)
    if refusal is not None:
        print(render_plain(refusal), file=sys.stderr)
        return EXIT_USAGE
    asked = engine.ask(who, question, lang=lang)
    answer = asked.answer
    reply = asked.reply
    phraser = Phraser.from_settings(settings, clock)
    # How the answer was produced: "llm", or "extract" with the reason (not-configured, declined,
    # ungrounded, misconfigured, context-too-long, timeout, … see bot/qa/phrasing.py REASONS).
    phrasing, phrasing_reason = "extract", "not-configured"
    if phraser is not None:
        tr = conversation.languages.translator_for_lang(who, reply.lang)
        phrased = asyncio.run(_phrase(phraser, asked, library, tr, index.lexicon))
        reply = phrased.reply or reply
        phrasing = "llm" if phrased.reply is not None else "extract"
        phrasing_reason = phrased.reason
        if phrased.reply is None and phrased.reason != "declined":
            # Also on stderr without --json: the operator trying a model wants to know why.
            detail = f": {phrased.detail}" if phrased.detail else ""
            print(f"note: the LLM answer was not used ({phrased.reason}{detail})", file=sys.stderr)
    if not as_json:
        print(render_plain(reply))
        return 0
    payload = {
        "answer": render_plain(reply),
        "lang": answer.lang,
        # Two decisions: is the question about our subject at all, and do the facts answer it.
        "scope": asked.scope,
        "found": answer.found,
        "phrasing": phrasing,
        "phrasing_reason": None if phrasing == "llm" else phrasing_reason,
        "citations": [
            {
                "n": c.n,
                "fact_id": c.fact_id,
                "publisher": c.publisher,
                "published": c.published.isoformat() if c.published else None,
                "url": c.url,
            }
            for c in answer.citations
        ],
    }
    print(json.dumps(payload, ensure_ascii=False))
    return 0


async def _phrase(
    phraser: Phraser, asked: Asked, library: Library, tr: Translator, lexicon: Lexicon
) -> Phrased:
    try:
        return await phraser.phrase(asked, library, tr, lexicon=lexicon)
    finally:
        await phraser.aclose()


def _digest(settings: Settings, lang: Lang, since_day: dt.date | None, now: dt.datetime) -> int:
    check_catalogs()
    # The fact store knows when each fact last changed; without one, content/ dates are used.
    # Reading needs no lock: the store is replaced atomically, never written in place.
    library = load_library(settings.content_dir)
    if settings.database_url:
        backend = PgBackend(settings.database_url, follow=False)
        try:
            stored = FactStore(backend).library()
        finally:
            backend.close()
        library = stored if stored.facts else library
    elif (settings.data_dir / FACTS_FILE).exists():
        store = FactStore(settings.data_dir)
        library = store.library()
        store.close()
    since = (
        dt.datetime.combine(since_day, dt.time(), dt.UTC)
        if since_day
        else now - dt.timedelta(days=1)
    )
    tr = translator(lang)
    blocks = compose_digest(library, since, now, tr, now.date()) or quiet_digest(
        library, since.date(), tr, now.date()
    )
    print(render_plain(Reply(lang, tuple(blocks))))
    return 0


def _content_load(settings: Settings, now: dt.datetime) -> int:
    library = load_library(settings.content_dir)
    digest = content_digest(settings.content_dir)
    if settings.database_url:
        backend = PgBackend(settings.database_url, follow=False)
        try:
            store = FactStore(backend)
            report = store.import_library(library, digest, now)
            store.close()
        finally:
            backend.close()
    else:
        with DataDirLock(settings.data_dir):
            store = FactStore(settings.data_dir)
            try:
                report = store.import_library(library, digest, now)
            finally:
                store.close()
    print(
        f"{len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} "
        f"removed, {report.unchanged} unchanged"
    )
    for label, ids in (
        ("added", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
    ):
        for fact_id in ids:
            print(f"  {label}: {fact_id}")
    return 0


def _store_migrate(settings: Settings, url: str) -> int:
    """Copy the data directory into PostgreSQL, holding its lock so no bot writes meanwhile."""
    with DataDirLock(settings.data_dir):
        backend = PgBackend(url, follow=False)
        try:
            copied = copy_to_postgres(settings.data_dir, backend)
        finally:
            backend.close()
    for c in copied:
        print(f"{c.namespace}/{c.table}: {c.written} copied, {c.unchanged} already there")
    written = sum(c.written for c in copied)
    unchanged = sum(c.unchanged for c in copied)
    print(f"{written} documents copied, {unchanged} already there, to {backend.target}")
    return 0
