"""Our client for an OpenAI-compatible chat server (vLLM, Ollama, llama.cpp, OpenAI), on httpx.

What the model is told and which answers may be shown is bot/qa/grounding.py's business; this
module only carries messages there and text back. Reasoning is never shown: ``<think>`` blocks
are cut from the text and ``reasoning_content``/``reasoning`` fields are ignored.

:class:`ChatClient` posts to ``{base_url}/chat/completions`` over a caller-owned
``httpx.AsyncClient``, either whole (:meth:`ChatClient.complete`) or streamed as server-sent
events (:meth:`ChatClient.stream`, which yields the cumulative visible text). One call never takes
longer than ``LLMSettings.deadline``, retries included. Transient failures (connection errors,
408/409/429/5xx) are retried with jittered exponential backoff, or after the server's
``Retry-After`` when it gives one, unless that wait would overrun the deadline. Every failure is
an :class:`LLMError` subclass, so the caller can fall back to the plain extractive answer, and
the subclass says what to do about it: :class:`LLMMisconfigured` (a wrong key, model or URL:
nothing works until the operator fixes it), :class:`LLMContextTooLong` (ask again with less),
:class:`LLMEmptyStream`, :class:`LLMTooLong`, :class:`LLMTimeout`, :class:`LLMUnavailable`.

Servers differ from OpenAI in ways the client survives: llama.cpp's answers a prompt too long for
its context with an event stream of no events (the client then asks once without streaming,
which gives the real error), ignores ``max_completion_tokens`` (``max_tokens`` is what is sent),
sends no usage chunk, and may stall mid-stream (a gap longer than ``LLMSettings.idle_timeout``
ends the answer). However long the server writes, the client stops reading past
``LLMSettings.max_chars``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email.utils
import functools
import json
import logging
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.wait import wait_random_exponential

from bot.core.clock import Clock

__all__ = [
    "ChatClient",
    "LLMBadResponse",
    "LLMContextTooLong",
    "LLMEmptyStream",
    "LLMError",
    "LLMMisconfigured",
    "LLMQuotaExceeded",
    "LLMSettings",
    "LLMTimeout",
    "LLMTooLong",
    "LLMUnavailable",
    "strip_reasoning",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


_RETRY_STATUSES: Final = frozenset({408, 409, 429, 500, 502, 503, 504})
_QUOTA_STATUSES: Final = frozenset({402, 403, 429})
# A wrong key, a model the server does not have, or a wrong URL: only the operator can fix them.
_CONFIGURATION_STATUSES: Final = frozenset({401, 403, 404})
_CONTEXT_CODES: Final = frozenset({"context_length_exceeded", "context_window_exceeded"})
_CONTEXT_MESSAGE: Final = re.compile(
    r"context (?:length|window|size)|maximum context|too many tokens|exceeds? (?:the )?"
    r"(?:model'?s? )?(?:context|maximum)|prompt is too long",
    re.IGNORECASE,
)
_MAX_BACKOFF: Final = 8.0
_ERROR_TEXT_LIMIT: Final = 300
_ADJUSTABLE: Final = frozenset({"max_tokens", "temperature"})


@dataclass(frozen=True)
class LLMSettings:
    """Where the model is and how long one answer may take; the API key stays out of repr."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    connect_timeout: float = 5.0
    deadline: float = 30.0
    max_retries: int = 2
    max_tokens: int = 400
    temperature: float = 0.0
    # Ceiling of the first retry's random wait; it doubles with each retry, up to 8 s.
    backoff: float = 0.5
    # The longest quiet gap inside a streamed answer (llama.cpp stalls on bytes that are not
    # valid UTF-8); longer, and the answer is given up.
    idle_timeout: float = 10.0
    # Our own cap on what is read, reasoning included, whatever the server does with max_tokens;
    # None: 8 characters per token of max_tokens.
    max_chars: int | None = None

    @property
    def char_cap(self) -> int:
        return self.max_chars if self.max_chars is not None else 8 * self.max_tokens


class LLMError(Exception):
    """The model gave no usable answer; the caller falls back to the extractive answer."""


class LLMUnavailable(LLMError):
    """The server could not be reached or kept failing (connection, 408/409/429/5xx)."""


class LLMQuotaExceeded(LLMError):
    """The account is out of credit: retrying cannot help until someone pays."""


class LLMTimeout(LLMError):
    """The answer did not arrive within the deadline."""


class LLMBadResponse(LLMError):
    """The server refused the request or answered something unusable."""


class LLMMisconfigured(LLMError):
    """Wrong API key, unknown model or wrong URL (401/403/404): retrying cannot help until the
    operator fixes the configuration. The message is the server's own."""


class LLMContextTooLong(LLMBadResponse):
    """The prompt does not fit the model's context: ask again with fewer facts."""


class LLMEmptyStream(LLMBadResponse):
    """The server answered 200 with an event stream that held no event at all."""


class LLMTooLong(LLMBadResponse):
    """The answer ran past our own length cap (the server ignored max_tokens)."""


class _ParameterRejected(LLMBadResponse):
    """The model does not take one of our parameters as sent (OpenAI's reasoning models want
    ``max_completion_tokens`` instead of ``max_tokens``, and only their default temperature)."""

    def __init__(self, message: str, parameter: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class _Retryable(LLMUnavailable):
    """A failure worth another attempt, with the wait the server asked for, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# ----------------------------------------------------------------------------- HTTP errors


def _retry_after(headers: httpx.Headers, now: datetime.datetime) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms`` (OpenAI), then ``Retry-After``."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - now).total_seconds())


def _error_details(payload: object) -> tuple[str, str, str]:
    """(message, type, code) from OpenAI's, vLLM's or Ollama's error shapes, as text."""
    if not isinstance(payload, dict):
        return "", "", ""
    detail = payload.get("detail")
    if "error" not in payload and detail is not None:  # FastAPI: {"detail": "Invalid API key"}
        if isinstance(detail, str):
            return detail, "", ""
        return json.dumps(detail)[:_ERROR_TEXT_LIMIT], "", ""
    error = payload.get("error", payload)
    if isinstance(error, str):  # Ollama: {"error": "model 'x' not found"}
        return error, "", ""
    if not isinstance(error, dict):
        return "", "", ""
    message, kind, code = error.get("message"), error.get("type"), error.get("code")
    return (
        message if isinstance(message, str) else "",
        kind if isinstance(kind, str) else "",
        "" if code is None else str(code),
    )


def _rejected_parameter(payload: object) -> str | None:
    """The parameter a 400 names as unsupported, when it is one the client can do without."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None
    parameter, code = error.get("param"), error.get("code")
    if code in ("unsupported_parameter", "unsupported_value") and parameter in _ADJUSTABLE:
        return str(parameter)
    return None


def _classify(status: int, payload: object, retry_after: float | None) -> LLMError:
    message, kind, code = _error_details(payload)
    text = f"HTTP {status}"
    if kind or code:
        text += f" ({code if code and not code.isdigit() else kind or code})"
    if message:
        text += f": {message[:_ERROR_TEXT_LIMIT]}"
    if status == 402 or (status in _QUOTA_STATUSES and "insufficient_quota" in (kind, code)):
        return LLMQuotaExceeded(text)
    if status in (400, 413) and (code in _CONTEXT_CODES or _CONTEXT_MESSAGE.search(message)):
        return LLMContextTooLong(text)
    if status == 400 and (parameter := _rejected_parameter(payload)):
        return _ParameterRejected(text, parameter)
    if status in _CONFIGURATION_STATUSES:
        return LLMMisconfigured(text)
    if status in _RETRY_STATUSES:
        return _Retryable(text, retry_after)
    if 500 <= status < 600:
        return LLMUnavailable(text)
    return LLMBadResponse(text)


async def _error_from_response(response: httpx.Response, now: datetime.datetime) -> LLMError:
    try:
        await response.aread()
    except httpx.TransportError as exc:
        return _Retryable(f"HTTP {response.status_code}, then the connection failed: {exc!r}")
    except httpx.HTTPError as exc:
        return LLMBadResponse(f"HTTP {response.status_code} with an unreadable body: {exc!r}")
    try:
        payload: object = response.json()
    except ValueError:
        payload = {"message": response.text}
    return _classify(response.status_code, payload, _retry_after(response.headers, now))


def _error_in_body(payload: Mapping[str, Any]) -> LLMError:
    """An error object sent with status 200 or inside a stream, classified by its own code."""
    error = payload.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    status = code if isinstance(code, int) and 400 <= code < 600 else 500
    return _classify(status, payload, None)


# ----------------------------------------------------------------------------- reasoning

_THINK_BLOCK: Final = re.compile(r"<(think|thinking)>.*?</\1>", re.IGNORECASE | re.DOTALL)
_THINK_OPEN: Final = re.compile(r"<(?:think|thinking)>", re.IGNORECASE)
_THINK_CLOSE: Final = re.compile(r"</(?:think|thinking)>", re.IGNORECASE)
_TAG_STARTS: Final = ("</thinking", "<thinking")


def strip_reasoning(text: str) -> str:
    """The visible answer: without ``<think>…</think>`` blocks, nor an unterminated last one."""
    text = _THINK_BLOCK.sub("", text)
    # A lone closing tag means the chat template opened the block inside the prompt, so
    # everything before it is reasoning (DeepSeek-R1 and QwQ without a reasoning parser).
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    opened = _THINK_OPEN.search(text)
    if opened:
        text = text[: opened.start()]
    return text.strip()


def _visible_while_streaming(raw: str) -> str:
    """Like strip_reasoning, but holds back a tail that may be the start of a think tag."""
    text = strip_reasoning(raw)
    lowered = text.lower()
    for tag in _TAG_STARTS:
        for size in range(len(tag), 0, -1):
            if lowered.endswith(tag[:size]):
                return text[:-size].rstrip()
    return text


def _message_text(content: object) -> str | None:
    """Message content as text; some servers send a list of typed parts instead of a string."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    raise LLMBadResponse(f"message content is a {type(content).__name__}")


def _first_choice(chunk: Mapping[str, Any]) -> dict[str, Any] | None:
    choices = chunk.get("choices")
    if not choices:  # usage-only chunks and keep-alive objects have none
        return None
    if not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise LLMBadResponse("choices is not a list of objects")
    return choices[0]


# ----------------------------------------------------------------------------- streaming


class _StreamReader:
    """Reads one streamed completion, event by event, into the raw content so far."""

    def __init__(self, response: httpx.Response, cap: int) -> None:
        self._response = response
        self._events = EventSource(response).aiter_sse()
        self._cap = cap
        self.raw = ""
        self.received = 0  # characters of content and reasoning alike
        self.events = 0
        self.finished = False

    @property
    def visible(self) -> str:
        return _visible_while_streaming(self.raw)

    async def advance(self) -> None:
        """Reads until the visible text changes or the completion is finished."""
        before = self.visible
        while not self.finished and self.visible == before:
            try:
                event = await anext(self._events)
            except StopAsyncIteration:
                if not self.events:
                    raise LLMEmptyStream(
                        "the server sent an event stream without a single event"
                    ) from None
                raise _Retryable("the stream ended before [DONE] or a finish_reason") from None
            except SSEError as exc:
                raise LLMBadResponse(f"not an event stream: {exc}") from None
            except httpx.TransportError as exc:
                raise _Retryable(f"the stream broke: {exc!r}") from exc
            except httpx.HTTPError as exc:
                raise LLMBadResponse(f"unreadable stream: {exc!r}") from exc
            self._consume(event)
            if self.received > self._cap:
                raise LLMTooLong(
                    f"the answer ran past {self._cap} characters (max_tokens ignored?)"
                )

    def _consume(self, event: ServerSentEvent) -> None:
        data = event.data.strip()
        if not data:
            return
        self.events += 1
        if data == "[DONE]":
            self.finished = True
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            raise LLMBadResponse(f"malformed chunk: {data[:80]!r}") from None
        if not isinstance(chunk, dict):
            raise LLMBadResponse(f"chunk is not an object: {data[:80]!r}")
        if chunk.get("error"):
            raise _error_in_body(chunk)
        choice = _first_choice(chunk)
        if choice is None:
            return
        delta = choice.get("delta")
        if isinstance(delta, dict):
            content = _message_text(delta.get("content"))
            if content:
                self.raw += content
            self.received += sum(
                len(value)
                for key in ("content", "reasoning_content", "reasoning")
                if isinstance(value := delta.get(key), str)
            )
        if choice.get("finish_reason"):
            log.debug("LLM stream finished: %s", choice["finish_reason"])
            self.finished = True

    async def aclose(self) -> None:
        # Runs in finally blocks: a failing close must not hide the error being raised.
        with contextlib.suppress(httpx.HTTPError):
            await self._events.aclose()
        with contextlib.suppress(httpx.HTTPError):
            await self._response.aclose()


# ----------------------------------------------------------------------------- client


class ChatClient:
    """Chat completions over a shared ``httpx.AsyncClient`` that the caller opens and closes."""

    def __init__(self, settings: LLMSettings, http: httpx.AsyncClient, *, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock  # for a Retry-After given as a date
        self._http = http
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        # What the model turned out to refuse, learnt from its first 400 (see _adapting).
        self._length_parameter = "max_tokens"
        self._send_temperature = True

    @staticmethod
    def new_http_client(settings: LLMSettings) -> httpx.AsyncClient:
        """A client whose waits are bounded by the settings; close it with the application."""
        headers = {"User-Agent": "partnerbrief"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        # Reads may legitimately wait as long as the whole answer may (a slow first token);
        # the deadline, not these, is what bounds a call.
        timeout = httpx.Timeout(settings.deadline, connect=settings.connect_timeout)
        return httpx.AsyncClient(headers=headers, timeout=timeout)

    async def complete(self, messages: list[dict[str, str]]) -> str:
        """The visible answer, reasoning removed; raises an LLMError subclass on any failure."""
        deadline_at = asyncio.get_running_loop().time() + self._settings.deadline
        try:
            async with asyncio.timeout_at(deadline_at):
                return await self._adapting(self._complete_once, messages, False, deadline_at)
        except TimeoutError:
            raise LLMTimeout(f"no answer within {self._settings.deadline:g} s") from None

    async def stream(self, messages: list[dict[str, str]]) -> AsyncGenerator[str, None]:
        """Yields the cumulative visible answer each time it grows, until the model finishes.

        Until the first visible text arrives a failed attempt is retried like in complete();
        after that a failure is raised, since the reader has already seen part of an answer.
        A consumer that may stop early should iterate inside ``contextlib.aclosing`` so that
        the response is released at once rather than when the generator is collected.
        """
        loop = asyncio.get_running_loop()
        deadline_at = loop.time() + self._settings.deadline
        # The deadline is applied around each await, never across a yield: a timeout scope held
        # open while the consumer runs would cancel the consumer's own code instead.
        try:
            async with asyncio.timeout_at(deadline_at):
                try:
                    reader = await self._adapting(self._open_stream, messages, True, deadline_at)
                except LLMEmptyStream as exc:
                    # llama.cpp's server does this for a prompt too long for its context and
                    # says why only in its log; unstreamed, it answers with the real error.
                    log.info("%s; asking once more without streaming", exc)
                    whole = await self._adapting(self._complete_once, messages, False, deadline_at)
                    reader = None
        except TimeoutError:
            raise LLMTimeout(f"no answer within {self._settings.deadline:g} s") from None
        if reader is None:
            yield whole
            return
        try:
            shown = ""
            while True:
                visible = reader.visible
                if visible and visible != shown:
                    shown = visible
                    yield visible
                if reader.finished:
                    break
                idle_at = loop.time() + self._settings.idle_timeout
                try:
                    async with asyncio.timeout_at(min(deadline_at, idle_at)):
                        await reader.advance()
                except TimeoutError:
                    if idle_at < deadline_at:
                        raise LLMTimeout(
                            f"the stream stalled for {self._settings.idle_timeout:g} s"
                        ) from None
                    raise LLMTimeout(
                        f"the answer was not finished within {self._settings.deadline:g} s"
                    ) from None
                except _Retryable as exc:
                    raise LLMUnavailable(f"{exc} after the answer had started") from exc
            final = strip_reasoning(reader.raw)
            if not final:
                raise LLMBadResponse("the answer is empty once reasoning is removed")
            if final != shown:  # a held-back "<" that turned out to be text
                yield final
        finally:
            await reader.aclose()

    # ------------------------------------------------------------------ one attempt each

    def _body(self, messages: list[dict[str, str]], *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._settings.model,
            "messages": messages,
            self._length_parameter: self._settings.max_tokens,
            "stream": stream,
        }
        if self._send_temperature:
            body["temperature"] = self._settings.temperature
        return body

    async def _adapting(
        self,
        attempt: Callable[[dict[str, Any]], Awaitable[T]],
        messages: list[dict[str, str]],
        stream: bool,
        deadline_at: float,
    ) -> T:
        """attempt(body) with retries; when the model refuses a parameter, once more at once
        without it, and without it from then on."""
        while True:
            body = self._body(messages, stream=stream)
            try:
                return await self._with_retries(functools.partial(attempt, body), deadline_at)
            except _ParameterRejected as exc:
                if exc.parameter == "max_tokens" and self._length_parameter == "max_tokens":
                    self._length_parameter = "max_completion_tokens"
                elif exc.parameter == "temperature" and self._send_temperature:
                    self._send_temperature = False
                elif self._body(messages, stream=stream) == body:
                    raise
                # Otherwise a question asked at the same time has already adjusted the client.
                log.info("the model refused %s; adjusted and asking again", exc.parameter)

    def _headers(self, accept: str) -> dict[str, str]:
        # Also set here, not only in new_http_client: the shared client may have been built
        # elsewhere without it.
        headers = {"Accept": accept}
        if self._settings.api_key:
            headers["Authorization"] = f"Bearer {self._settings.api_key}"
        return headers

    async def _complete_once(self, body: dict[str, Any]) -> str:
        log.debug("LLM request: model=%s messages=%d", body["model"], len(body["messages"]))
        try:
            response = await self._http.post(
                self._url, json=body, headers=self._headers("application/json")
            )
        except httpx.TransportError as exc:
            raise _Retryable(f"cannot reach the model server: {exc!r}") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise LLMBadResponse(f"request failed: {exc!r}") from exc
        if response.status_code != 200:
            raise await _error_from_response(response, self._clock())
        try:
            payload = response.json()
        except ValueError:
            raise LLMBadResponse(f"malformed JSON: {response.text[:80]!r}") from None
        if not isinstance(payload, dict):
            raise LLMBadResponse("the response is not a JSON object")
        if payload.get("error"):
            raise _error_in_body(payload)
        choice = _first_choice(payload)
        message = choice.get("message") if choice else None
        if not isinstance(message, dict):
            raise LLMBadResponse("the response has no choices[0].message")
        finish_reason = choice.get("finish_reason") if choice else None
        log.debug("LLM answer: finish_reason=%s usage=%s", finish_reason, payload.get("usage"))
        content = _message_text(message.get("content")) or ""
        if len(content) > self._settings.char_cap:
            raise LLMTooLong(
                f"the answer has {len(content)} characters, past {self._settings.char_cap}"
            )
        answer = strip_reasoning(content)
        if not answer:
            hint = " (max_tokens spent on reasoning?)" if finish_reason == "length" else ""
            raise LLMBadResponse(f"the answer is empty once reasoning is removed{hint}")
        return answer

    async def _open_stream(self, body: dict[str, Any]) -> _StreamReader:
        """Starts a streamed completion and reads it up to its first visible text."""
        log.debug("LLM stream request: model=%s messages=%d", body["model"], len(body["messages"]))
        try:
            request = self._http.build_request(
                "POST", self._url, json=body, headers=self._headers("text/event-stream")
            )
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _Retryable(f"cannot reach the model server: {exc!r}") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise LLMBadResponse(f"request failed: {exc!r}") from exc
        reader: _StreamReader | None = None
        try:
            if response.status_code != 200:
                raise await _error_from_response(response, self._clock())
            reader = _StreamReader(response, self._settings.char_cap)
            await reader.advance()
            if not reader.visible and not strip_reasoning(reader.raw):
                raise LLMBadResponse("the answer is empty once reasoning is removed")
            return reader
        except BaseException:
            if reader is not None:
                await reader.aclose()
            else:
                await response.aclose()
            raise

    # ------------------------------------------------------------------ retries

    async def _with_retries(self, attempt: Callable[[], Awaitable[T]], deadline_at: float) -> T:
        """Runs attempt() until it succeeds, fails for good, or the next wait would overrun.

        tenacity does the looping; the two rules it has no built-in for are the callbacks below:
        wait what Retry-After says, and stop at once rather than sleep past the deadline.
        """
        loop = asyncio.get_running_loop()
        backoff = wait_random_exponential(multiplier=self._settings.backoff, max=_MAX_BACKOFF)

        def wait(state: RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome else None
            if isinstance(failure, _Retryable) and failure.retry_after is not None:
                return failure.retry_after
            return float(backoff(state))

        def stop(state: RetryCallState) -> bool:
            return (
                state.attempt_number > self._settings.max_retries
                or loop.time() + state.upcoming_sleep >= deadline_at
            )

        def before_sleep(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome else None
            log.debug(
                "LLM attempt %d failed (%s); retrying in %.2f s",
                state.attempt_number,
                failure,
                state.upcoming_sleep,
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retryable),
            wait=wait,
            stop=stop,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            async for try_ in retrying:
                with try_:
                    return await attempt()
        except _Retryable as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            if exc.retry_after is not None and loop.time() + exc.retry_after >= deadline_at:
                raise LLMUnavailable(
                    f"{exc}; the server asked to retry after {exc.retry_after:.0f} s, "
                    "beyond the time left for this answer"
                ) from exc
            raise LLMUnavailable(f"{exc}; gave up after {attempts} attempt(s)") from exc
        raise AssertionError("tenacity neither returned nor raised")  # pragma: no cover
