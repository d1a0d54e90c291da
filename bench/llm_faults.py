"""What the reader sees, and when, for each way an OpenAI-compatible server was seen to fail.

    python -m bench.llm_faults

The real application (build_application, long polling) answers a private question through the
Bot API double, with the LLM served by tests/support/llm_server.py playing each fault observed
against llama-cpp-python's server. Times are on one monotonic clock, from the question's arrival
in the double to the bot's first call for that chat (draft or message) and to its final message.
"reached" is what the first and the final reply were: progress (the note, or guarded sentences),
llm (the phrased answer) or extract. "leaked" counts texts that reached the Bot API with words
of an invention or gibberish in them (drafts, messages and every edit); it must be 0.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.botapi_double import BotApiDouble
from tests.support.llm_server import FakeLLMServer, Reply
from tests.tg.conftest import polling, settings_for

QUESTION = "How much has Microsoft invested in OpenAI?"
GOOD = "Microsoft has invested more than $13 billion in OpenAI [1]."
INVENTED = "Microsoft also bought Anthropic for $90 billion last year [1]."
EXTRACT = "More than $13 billion, according to Financial Times"
MARKERS = ("Anthropic", "annou6u", "$90")


@dataclass
class Fault:
    name: str
    replies: tuple[Reply, ...] = ()
    server: dict[str, Any] = field(default_factory=dict)
    llama_cpp: bool = False
    api_key: str | None = None


FAULTS = (
    Fault("healthy model (baseline)", (Reply(content=GOOD, chunks=8, chunk_delay=0.1),)),
    Fault("llama.cpp shape: role-only chunk, no usage", (Reply(content=GOOD),), llama_cpp=True),
    Fault(
        "starts well, then invents",
        (Reply(content=f"{GOOD} {INVENTED}", chunks=30, chunk_delay=0.12),),
    ),
    Fault("cited gibberish", (Reply(content="u annou6u annou6u [1]", chunks=4),)),
    Fault(
        "wrong API key (FastAPI 401)",
        llama_cpp=True,
        server={"api_key": "sk-right"},
        api_key="sk-wrong",
    ),
    Fault("model not found (404)", server={"models": {"other"}}),
    Fault("context overflow (empty 200 stream)", llama_cpp=True, server={"context_words": 150}),
    Fault(
        "ignores max_completion_tokens",
        (Reply(content=GOOD, ramble=True),),
        llama_cpp=True,
        server={"context_words": 100_000},
    ),
    Fault(
        "ignores every length cap",
        (Reply(content=GOOD, ramble=True),),
        server={"honours": (), "context_words": 100_000},
    ),
    Fault(
        "stalls 21.5 s mid-stream (bad UTF-8)",
        (Reply(content=GOOD, chunks=6, stall=21.5, stall_after_chunks=2),),
    ),
    Fault("slow first token (5 s)", (Reply(content=GOOD, stall=5.0),)),
    Fault(
        "503 with Retry-After: 1, then fine",
        (Reply.http_error(503, retry_after="1"), Reply(content=GOOD)),
    ),
)


async def measure(fault: Fault, root: Path) -> tuple[str, str, float, float, int]:
    options = dict(fault.server)
    llm = FakeLLMServer.llama_cpp(**options) if fault.llama_cpp else FakeLLMServer(**options)
    with BotApiDouble() as double, llm:
        llm.script(*fault.replies)
        settings = settings_for(
            double,
            root / fault.name.replace(" ", "_").replace("/", "_"),
            llm_base_url=llm.base_url,
            llm_model="test",
            llm_api_key=fault.api_key,
        )
        async with polling(settings):
            user = 500
            double.send_text(user, QUESTION, language_code="en")
            asked = time.monotonic()
            await double.await_for(
                lambda d: any("Sources" in m.plain_text for m in d.messages(user)), timeout=90
            )
            calls = [
                c
                for c in double.calls()
                if c.method in ("sendMessage", "sendMessageDraft", "editMessageText")
                and str(c.params.get("chat_id")) == str(user)
            ]
            texts = [str(c.params.get("text", "")) for c in calls]
            first, final = calls[0], next(c for c in calls if "Sources" in str(c.params["text"]))

            def kind(text: str) -> str:
                if "Sources" not in text:
                    return "progress"
                return "extract" if text.startswith(EXTRACT) else "llm"

            leaked = sum(any(m in t for m in MARKERS) for t in texts)
            return (
                kind(texts[0]),
                kind(double.messages(user)[-1].plain_text),
                first.time - asked,
                final.time - asked,
                leaked,
            )


async def main() -> None:
    logging.basicConfig(level=logging.CRITICAL)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fault in FAULTS:
            rows.append((fault.name, *await measure(fault, Path(tmp))))
    print("| fault | first reply | final | time to first reply | time to final | leaked |")
    print("|---|---|---|---|---|---|")
    for name, first, final, t_first, t_final, leaked in rows:
        print(f"| {name} | {first} | {final} | {t_first:.2f} s | {t_final:.2f} s | {leaked} |")


if __name__ == "__main__":
    asyncio.run(main())
