"""Correction fan-out through the Bot API double: N readers were told a fact, an approval
revises it, and each of them gets one note.

    python -m bench.corrections [--readers 10000] [--others 10000] [--rate 1000]

The bot side runs in this process (Services.open, Review.approval, Services.publish, then
DigestService.deliver_notes with the TelegramSender of an initialized build_application); the
double runs in a child process (bench/broadcast.py's DoubleProcess), so they share no GIL.
``--others`` readers were told other facts only: none of them may get a note. Figures: the time
to plan (who is owed a note, from the receipts), the fan-out's time and messages per second at
the given BOT_SEND_RATE, and the notes counted per chat by the double (misses, duplicates,
notes to readers who were not owed one).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import tempfile
import time
from pathlib import Path

from bench.broadcast import DoubleProcess
from bot.app.services import Services
from bot.config import Settings
from bot.core.candidates import Candidate, Link
from bot.core.domain import Figure
from bot.core.editorial import Draft
from bot.store.candidates import CandidateStore
from bot.store.receipts import ReceiptStore
from bot.tg.app import build_application
from bot.tg.delivery import TelegramSender
from tests.conftest import CONTENT

OLD = "stakes-microsoft-invested-over-13bn"
OTHER = "revenue-capped-share-through-2030"


async def run(readers: int, others: int, rate: float) -> dict[str, float | int]:
    now = dt.datetime.now(dt.UTC)
    double = DoubleProcess()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        told, not_told = range(10**6, 10**6 + readers), range(2 * 10**6, 2 * 10**6 + others)
        double.register([*told, *not_told])
        receipts = ReceiptStore.open(data_dir)
        for n, chat in enumerate(told):
            receipts.record(chat, [(OLD, 1)], now - dt.timedelta(hours=1), "fr" if n % 2 else "en")
        for chat in not_told:
            receipts.record(chat, [(OTHER, 1)], now - dt.timedelta(hours=1), "en")
        receipts.close()
        candidate = Candidate(
            "bench",
            "Microsoft has now invested $15 billion in OpenAI",
            "Microsoft has invested $15 billion in OpenAI, the FT reported.",
            (Link("https://example.com/ft", "Financial Times"),),
            now,
        )
        store = CandidateStore.open(data_dir)
        store.put(candidate)
        store.close()
        settings = Settings(
            telegram_token=double.token,
            telegram_api_base_url=double.base_url,
            data_dir=data_dir,
            content_dir=CONTENT,
            send_rate=rate,
        )
        services = Services.open(settings, lambda: now)
        app = build_application(settings, clock=lambda: now)
        try:
            await app.initialize()
            draft = Draft(
                1,
                1,
                "bench",
                "preview",
                topic="stakes",
                status="reported",
                text_en="Microsoft has invested {invested} in OpenAI, the FT says.",
                text_fr="Selon le FT, Microsoft a investi {invested} dans OpenAI.",
                figures=(Figure("invested", "money", 15_000_000_000, "USD"),),
                updates=OLD,
                old_status="superseded",
            )
            approved = services.review.approval(draft, candidate, services.library(), now)
            services.editorial.put_approved(approved)
            started = time.perf_counter()
            planned = services.publish(approved)
            plan_seconds = time.perf_counter() - started
            assert planned is not None
            jobs = [(c, planned.day, note) for c, note in services.corrections.notes(planned)]
            ledger = services.corrections.ledger(planned)
            started = time.perf_counter()
            report = await services.digests.deliver_notes(
                TelegramSender(app.bot), ledger, jobs, now
            )
            seconds = time.perf_counter() - started
            ledger.close()
        finally:
            await app.shutdown()
            services.close()
        counts = double.message_counts([*told, *not_told])
    double.stop()
    got = [counts.get(chat, 0) for chat in told]
    return {
        "readers": readers,
        "others": others,
        "rate_limit": rate,
        "owed": len(planned.targets),
        "plan_seconds": round(plan_seconds, 3),
        "fan_out_seconds": round(seconds, 2),
        "messages_per_second": round(report.counts.get("sent", 0) / seconds, 1),
        "sent": report.counts.get("sent", 0),
        "missed": sum(1 for n in got if n == 0),
        "duplicates": sum(1 for n in got if n > 1),
        "to_others": sum(counts.get(chat, 0) for chat in not_told),
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--others", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.readers, args.others, args.rate)), indent=2))


if __name__ == "__main__":
    main()
