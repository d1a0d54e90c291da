"""LLM phrasing of extractive answers: grounded, cited, rate-limited, and always optional.

The extractive answer is the product; the model may only restate its facts. Any failure, a
timeout, a refusal or an answer that cites or states something the facts do not hold, gives the
extractive answer instead (``Phrased.reply`` is None and ``reason`` says why).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bot.compose.briefing import Citations, fact_text, source_blocks
from bot.config import Settings
from bot.core.clock import Clock
from bot.core.domain import Block, Library, Reply
from bot.i18n.translator import Translator
from bot.qa.engine import Asked
from bot.qa.grounding import DONT_KNOW, build_messages, check_grounded
from bot.qa.llm_client import ChatClient, LLMError, LLMSettings, strip_reasoning

log = logging.getLogger(__name__)
Progress = Callable[[str], Awaitable[None]]
_CITE = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")


def _renumber(match: re.Match[str], numbers: dict[int, tuple[int, ...]]) -> str:
    """[2] (the model's second fact) -> [3][4] (that fact's sources)."""
    cited: list[int] = []
    for part in re.split(r"[,;]", match.group(1)):
        for n in numbers.get(int(part), ()):
            if n not in cited:
                cited.append(n)
    return "".join(f"[{n}]" for n in cited)


def _hide(match: re.Match[str]) -> str:
    """While streaming, fact numbers are not yet source numbers: show no number at all."""
    return ""


@dataclass(frozen=True)
class Phrased:
    reply: Reply | None
    reason: str  # "llm", "declined", "rate-limited", "ungrounded", "dont-know", or the error


class Phraser:
    """Owns the shared httpx client; created in post_init, closed in post_shutdown."""

    def __init__(
        self,
        client: ChatClient,
        http: httpx.AsyncClient,
        per_hour: int,
        clock: Clock,
    ) -> None:
        self._client = client
        self._http = http
        self._limit = RateLimitItemPerHour(per_hour)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> Phraser | None:
        if not settings.llm_base_url:
            return None
        llm = LLMSettings(
            base_url=settings.llm_base_url,
            model=settings.llm_model or "default",
            api_key=settings.llm_api_key,
            deadline=settings.llm_deadline,
        )
        http = ChatClient.new_http_client(llm)
        return cls(
            ChatClient(llm, http, clock=clock), http, settings.llm_questions_per_hour, clock
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def allow(self, user_id: int) -> bool:
        """Spend one of the user's LLM questions for this hour; False when none is left."""
        return self._limiter.hit(self._limit, "llm", str(user_id))

    async def phrase(
        self,
        asked: Asked,
        library: Library,
        tr: Translator,
        progress: Progress | None = None,
    ) -> Phrased:
        answer = asked.answer
        if not answer.found:
            # Nothing to restate: a model asked to answer anyway is how inventions happen.
            return Phrased(None, "declined")
        # The model sees facts numbered 1..k; its [i] become the facts' source numbers below,
        # so that the final message cites the same numbered sources as the extract.
        facts = [(i, fact_text(library.facts[f], tr)) for i, f in enumerate(answer.fact_ids, 1)]
        messages = build_messages(facts, asked.question, tr.lang, self._clock().date())
        text = ""
        try:
            if progress is None:
                text = await self._client.complete(messages)
            else:
                # Consumed to the end (or until it raises), so the stream always closes.
                async for text in self._client.stream(messages):
                    await progress(_CITE.sub(_hide, text))
        except LLMError as exc:
            log.warning("LLM answer failed, falling back to the extract: %s", type(exc).__name__)
            return Phrased(None, type(exc).__name__)
        text = strip_reasoning(text).strip()
        if text == DONT_KNOW[tr.lang]:
            return Phrased(None, "dont-know")
        verdict = check_grounded(text, dict(facts))
        if not verdict.ok:
            log.info("LLM answer rejected by the grounding guard: %s", verdict.reason)
            return Phrased(None, "ungrounded")
        citations = Citations(library)
        numbers = {i: citations.cite(library.facts[f]) for i, f in enumerate(answer.fact_ids, 1)}
        text = _CITE.sub(lambda m: _renumber(m, numbers), text)
        blocks = (Block("text", text), *source_blocks(citations, tr))
        return Phrased(Reply(tr.lang, blocks, asked.reply.buttons), "llm")
