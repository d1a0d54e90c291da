"""LLM phrasing of extractive answers: grounded, cited, rate-limited, and always optional.

The extractive answer is the product; the model may only restate its facts. Any failure, a
timeout, a refusal or an answer with a sentence the guard does not accept, gives the extractive
answer instead (``Phrased.reply`` is None and ``reason`` says why, in a word the operator can act
on: see ``REASONS``).

The answer is always streamed and judged sentence by sentence as it arrives
(bot/qa/grounding.py): ``progress`` only ever sees whole sentences that passed the guard, already
cited with the extract's source numbers, and the first sentence the guard refuses ends the answer
at once. A prompt too long for the model's context is asked once more with fewer facts. A wrong
key, model or URL is a configuration error: logged once with the server's own message, and kept
in ``Phraser.misconfigured`` (for /stats and /readyz) until a call succeeds.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import httpx
from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bot.compose.briefing import Citations, fact_text, source_blocks
from bot.config import Settings
from bot.core.clock import Clock
from bot.core.domain import Block, Library, Reply
from bot.i18n.translator import Translator, translator
from bot.qa.engine import Asked
from bot.qa.grounding import (
    DONT_KNOW,
    GuardResult,
    Vocabulary,
    build_messages,
    check_sentence,
    sentences,
)
from bot.qa.llm_client import (
    ChatClient,
    LLMBadResponse,
    LLMContextTooLong,
    LLMEmptyStream,
    LLMError,
    LLMMisconfigured,
    LLMQuotaExceeded,
    LLMSettings,
    LLMTimeout,
    LLMTooLong,
    LLMUnavailable,
    strip_reasoning,
)

if TYPE_CHECKING:
    from bot.content.lexicon import Lexicon

log = logging.getLogger(__name__)
Progress = Callable[[str], Awaitable[None]]
_CITE = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")

# Why an answer is the extract (Phrased.reason, ask --json's phrasing_reason, the metrics).
REASONS: Final = (
    "declined",  # nothing found: the model is not asked
    "rate-limited",
    "ungrounded",  # a sentence the guard refused
    "dont-know",
    "context-too-long",  # even with fewer facts
    "misconfigured",  # wrong key, model or URL
    "quota",
    "timeout",
    "unavailable",  # connection errors, 5xx, 429 after retries
    "empty-stream",
    "too-long",  # past our own length cap
    "bad-response",
)


def _reason(exc: LLMError) -> str:
    for kind, reason in (
        (LLMContextTooLong, "context-too-long"),
        (LLMMisconfigured, "misconfigured"),
        (LLMQuotaExceeded, "quota"),
        (LLMTimeout, "timeout"),
        (LLMUnavailable, "unavailable"),
        (LLMEmptyStream, "empty-stream"),
        (LLMTooLong, "too-long"),
        (LLMBadResponse, "bad-response"),
    ):
        if isinstance(exc, kind):
            return reason
    return "bad-response"


def _once(accepted: list[str]) -> str:
    """The accepted sentences, each said once: a looping model (one that ignores its length
    cap) repeats a grounded sentence until it is stopped, and the reader needs it only once."""
    return " ".join(dict.fromkeys(accepted))


def _renumber(match: re.Match[str], numbers: dict[int, tuple[int, ...]]) -> str:
    """[2] (the model's second fact) -> [3][4] (that fact's sources)."""
    cited: list[int] = []
    for part in re.split(r"[,;]", match.group(1)):
        for n in numbers.get(int(part), ()):
            if n not in cited:
                cited.append(n)
    return "".join(f"[{n}]" for n in cited)


@dataclass(frozen=True)
class Phrased:
    reply: Reply | None
    reason: str  # "llm", or one of REASONS
    detail: str = ""  # what went wrong, for the log and ask --json (never the API key)


class _Refused(Exception):
    def __init__(self, verdict: GuardResult) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict


class Phraser:
    """Owns the shared httpx client; created in post_init, closed in post_shutdown."""

    def __init__(
        self,
        client: ChatClient,
        http: httpx.AsyncClient,
        per_hour: int,
        clock: Clock,
        *,
        api_key: str | None = None,
    ) -> None:
        self._client = client
        self._http = http
        self._limit = RateLimitItemPerHour(per_hour)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._clock = clock
        self._api_key = api_key
        # The server's message for a wrong key, model or URL, until a call succeeds.
        self.misconfigured: str | None = None

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
            ChatClient(llm, http, clock=clock),
            http,
            settings.llm_questions_per_hour,
            clock,
            api_key=settings.llm_api_key,
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
        lexicon: Lexicon | None = None,
    ) -> Phrased:
        answer = asked.answer
        if not answer.found:
            # Nothing to restate: a model asked to answer anyway is how inventions happen.
            return Phrased(None, "declined")
        vocabulary = Vocabulary.of(lexicon) if lexicon is not None else Vocabulary()
        fact_ids = list(answer.fact_ids)
        try:
            try:
                text = await self._attempt(fact_ids, asked, library, tr, vocabulary, progress)
            except LLMContextTooLong as exc:
                if len(fact_ids) < 2:
                    raise
                # The best-ranked facts first: keep the first half, and try once more.
                fact_ids = fact_ids[: max(1, len(fact_ids) // 2)]
                log.warning("LLM %s; asking again with %d fact(s)", self._safe(exc), len(fact_ids))
                text = await self._attempt(fact_ids, asked, library, tr, vocabulary, progress)
        except _Refused as refused:
            log.info("LLM answer rejected by the grounding guard: %s", refused.verdict.reason)
            return Phrased(None, "ungrounded", refused.verdict.reason)
        except LLMError as exc:
            return self._failed(exc)
        self._healthy()
        if text is None:
            return Phrased(None, "dont-know")
        return Phrased(self._reply(text, fact_ids, asked, library, tr), "llm")

    # ------------------------------------------------------------------ one answer

    async def _attempt(
        self,
        fact_ids: Sequence[str],
        asked: Asked,
        library: Library,
        tr: Translator,
        vocabulary: Vocabulary,
        progress: Progress | None,
    ) -> str | None:
        """The guarded answer, None for "I don't know"; raises _Refused or an LLMError."""
        facts = [(i, fact_text(library.facts[f], tr)) for i, f in enumerate(fact_ids, 1)]
        other = translator("en" if tr.lang == "fr" else "fr")
        # A sentence may say in one language what the fact says in the other.
        both = {
            i: (text, fact_text(library.facts[f], other))
            for (i, text), f in zip(facts, fact_ids, strict=True)
        }
        messages = build_messages(facts, asked.question, tr.lang, self._clock().date())
        accepted: list[str] = []
        text = ""
        # Closed at once when the guard refuses a sentence: no need to read the rest.
        async with contextlib.aclosing(self._client.stream(messages)) as stream:
            async for text in stream:
                visible = strip_reasoning(text)
                if DONT_KNOW[tr.lang].startswith(visible.strip()):
                    continue  # maybe the sentence the model is told to give: judged at the end
                whole, _ = sentences(visible, final=False)
                if self._judge(whole, accepted, both, vocabulary) and progress is not None:
                    await progress(self._shown(accepted, fact_ids, library))
        visible = strip_reasoning(text).strip()
        if visible == DONT_KNOW[tr.lang]:
            return None
        whole, _ = sentences(visible)
        self._judge(whole, accepted, both, vocabulary)
        if not accepted:
            raise _Refused(GuardResult(False, "empty answer"))
        return _once(accepted)

    @staticmethod
    def _judge(
        whole: list[str],
        accepted: list[str],
        facts: dict[int, tuple[str, str]],
        vocabulary: Vocabulary,
    ) -> bool:
        """Checks the sentences not judged yet; True when some were added to ``accepted``."""
        fresh = whole[len(accepted) :]
        for sentence in fresh:
            verdict = check_sentence(sentence, facts, vocabulary)
            if not verdict.ok:
                raise _Refused(verdict)
            accepted.append(sentence)
        return bool(fresh)

    @staticmethod
    def _shown(accepted: list[str], fact_ids: Sequence[str], library: Library) -> str:
        citations = Citations(library)
        numbers = {i: citations.cite(library.facts[f]) for i, f in enumerate(fact_ids, 1)}
        return _CITE.sub(lambda m: _renumber(m, numbers), _once(accepted))

    def _reply(
        self,
        text: str,
        fact_ids: Sequence[str],
        asked: Asked,
        library: Library,
        tr: Translator,
    ) -> Reply:
        # The model sees facts numbered 1..k; its [i] become the facts' source numbers, so that
        # the final message cites the same numbered sources as the extract.
        citations = Citations(library)
        numbers = {i: citations.cite(library.facts[f]) for i, f in enumerate(fact_ids, 1)}
        text = _CITE.sub(lambda m: _renumber(m, numbers), text)
        blocks = (Block("text", text), *source_blocks(citations, tr))
        return Reply(tr.lang, blocks, asked.reply.buttons)

    # ------------------------------------------------------------------ errors

    def _safe(self, exc: BaseException) -> str:
        text = str(exc)
        if self._api_key:
            text = text.replace(self._api_key, "[redacted]")
        return text

    def _failed(self, exc: LLMError) -> Phrased:
        reason, detail = _reason(exc), self._safe(exc)
        if reason == "misconfigured":
            if detail != self.misconfigured:  # once per distinct problem, not per question
                log.error(
                    "LLM misconfigured (check LLM_BASE_URL, LLM_MODEL and LLM_API_KEY): %s",
                    detail,
                )
            self.misconfigured = detail
        else:
            log.warning("LLM answer failed (%s), falling back to the extract: %s", reason, detail)
        return Phrased(None, reason, detail)

    def _healthy(self) -> None:
        if self.misconfigured is not None:
            log.info("LLM answers again; the configuration problem is gone")
            self.misconfigured = None
