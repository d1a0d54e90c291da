"""An OpenAI-compatible chat completions server on 127.0.0.1, scripted reply by reply, for tests.

    with FakeLLMServer() as server:
        server.script(Reply(content="Microsoft holds about 27% [1]", chunks=4))
        client = ChatClient(LLMSettings(base_url=server.base_url, model="m"), http)
        ...
        assert server.requests[0].body["stream"] is True

``POST /v1/chat/completions`` answers in OpenAI's wire format: a ``chat.completion`` object, or
with ``"stream": true`` server-sent events of ``chat.completion.chunk`` objects (a role chunk,
the content split into pieces, a chunk carrying ``finish_reason``, a usage chunk without choices,
then ``data: [DONE]``), sent with chunked transfer encoding and preceded by a ``:`` keep-alive
comment, as real servers do.

Each request takes the next scripted :class:`Reply`; when none is left the server answers by
quoting the first numbered fact of the last user message (``[n] text`` inside ``<facts>``) with
its citation, so that the bot can be run end to end against it. Faults a real server shows are
scriptable: error statuses with OpenAI's error body and ``Retry-After``, stalls before the
headers or mid-stream, a malformed chunk, and a connection closed mid-answer.

What llama-cpp-python's server does differently is learnt too (``FakeLLMServer.llama_cpp()``
turns it all on; each part is also a constructor option): a wrong key gets FastAPI's
``401 {"detail": "Invalid API key"}``, an unknown model (``models=``) OpenAI's 404
``model_not_found``, a prompt longer than ``context_words`` a 400 ``context_length_exceeded``
unstreamed but a 200 event stream with no event at all streamed; ``max_completion_tokens`` is
ignored (only ``max_tokens`` caps a ``Reply(ramble=True)``, which otherwise writes until the
context is full), the first chunk carries only the role and no usage chunk ends the stream.
A model that starts well and then invents is just a scripted content.

Every request is recorded (:attr:`FakeLLMServer.requests`). Stalls wake up when the server stops,
so stopping never waits for them. All public methods are thread-safe.
"""

from __future__ import annotations

import contextlib
import enum
import http
import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

__all__ = ["AUTO", "FakeLLMServer", "RecordedRequest", "Reply", "default_answer"]

JSON = dict[str, Any]


class _Auto(enum.Enum):
    ANSWER = "auto"


AUTO = _Auto.ANSWER
"""Reply.content default: quote the first fact of the request, as when nothing is scripted."""

_FACT_LINE = re.compile(r"^\[(\d+)\]\s*(.+?)\s*$", re.MULTILINE)
_FACTS_BLOCK = re.compile(r"<facts>(.*?)</facts>", re.DOTALL)


@dataclass(frozen=True)
class Reply:
    """How the server answers one request.

    ``chunks`` splits the streamed text (reasoning and content alike) into that many pieces, with
    ``chunk_delay`` seconds between them. The ``*_after_chunks`` faults count those pieces: after
    that many, the server stalls ``stall`` seconds, sends a malformed chunk, or closes the
    connection without ending the response. Without ``stall_after_chunks``, ``stall`` is spent
    before the status line. A non-streamed request with ``malformed_after_chunks`` set gets an
    invalid JSON body, with ``close_after_chunks`` set no response at all, and with
    ``stall_after_chunks`` set its headers at once and its body after the stall.
    """

    content: str | _Auto | None = AUTO
    reasoning_content: str | None = None
    reasoning_field: str = "reasoning_content"  # newer vLLM says "reasoning"
    think: str | None = None  # wrapped in <think>…</think> in front of the content
    finish_reason: str = "stop"
    chunks: int = 3
    chunk_delay: float = 0.0
    status: int = 200
    error: Mapping[str, Any] | None = None  # the inner OpenAI error object
    body: Any = None  # a whole JSON error body instead, for other servers' shapes
    retry_after: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    stall: float = 0.0
    stall_after_chunks: int | None = None
    malformed_after_chunks: int | None = None
    close_after_chunks: int | None = None
    finish_chunk: bool = True  # False: the stream ends at a usage chunk and [DONE] alone
    usage_chunk: bool | None = None  # None: as the server does (llama.cpp sends none)
    # Repeat the content, word by word, until max_tokens (when the server honours the
    # parameter sent) or the context is full.
    ramble: bool = False
    # 200 and an event stream that ends before its first event (llama.cpp's context overflow).
    empty_stream: bool = False

    @classmethod
    def http_error(
        cls,
        status: int,
        message: str = "",
        *,
        type: str | None = None,
        code: str | int | None = None,
        retry_after: str | None = None,
    ) -> Reply:
        """An error status with OpenAI's body ``{"error": {message, type, param, code}}``."""
        return cls(
            status=status,
            error={
                "message": message or http.HTTPStatus(status).phrase,
                "type": type or ("server_error" if status >= 500 else "invalid_request_error"),
                "param": None,
                "code": code,
            },
            retry_after=retry_after,
        )


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it; header names are lower-case."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: JSON


def default_answer(messages: list[JSON]) -> str:
    """The first fact of the last user message, quoted with its citation, or "I don't know."."""
    for message in reversed(messages):
        if message.get("role") != "user" or not isinstance(message.get("content"), str):
            continue
        block = _FACTS_BLOCK.search(message["content"])
        found = _FACT_LINE.search(block.group(1) if block else message["content"])
        if found:
            return f"{found.group(2)} [{found.group(1)}]"
        break
    return "I don't know."


def _pieces(text: str, count: int) -> list[str]:
    if not text:
        return []
    count = max(1, min(count, len(text)))
    size, extra = divmod(len(text), count)
    pieces, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


class _Abort(Exception):
    """The server is stopping or the client left: end this response without a word."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "FakeLLM/1.0"
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the server records every request itself."""

    def handle(self) -> None:
        # The client or stop() may close the connection mid-request; nothing to report then.
        with contextlib.suppress(OSError, ValueError, _Abort):
            super().handle()

    @property
    def _fake(self) -> FakeLLMServer:
        return cast("_Server", self.server).fake

    def do_GET(self) -> None:
        self._json(404, {"error": {"message": "Not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        self._fake._record(
            RecordedRequest("POST", self.path, headers, body if isinstance(body, dict) else {})
        )
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, _error_body("Not found", "invalid_request_error"))
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._json(
                400, _error_body("'messages' is a required property", "invalid_request_error")
            )
            return
        refused = self._fake._refused_parameter(body)
        if refused is not None:
            self._json(400, {"error": refused})
            return
        fake = self._fake
        if fake.api_key is not None and headers.get("authorization") != f"Bearer {fake.api_key}":
            self._json(401, {"detail": "Invalid API key"})  # FastAPI's shape, not OpenAI's
            return
        model = str(body.get("model", "fake-model"))
        if fake.models is not None and model not in fake.models:
            self._json(
                404,
                {
                    "error": {
                        "message": f"The model `{model}` does not exist",
                        "type": "invalid_request_error",
                        "param": "model",
                        "code": "model_not_found",
                    }
                },
            )
            return
        prompt_words = _prompt_words(body["messages"])
        if fake.context_words is not None and prompt_words > fake.context_words:
            if body.get("stream"):
                # llama.cpp's server: the error is only in its log; the client gets 200 and an
                # event stream that ends before its first event.
                self._head(
                    200,
                    "text/event-stream; charset=utf-8",
                    {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache"},
                )
                self._send_chunk(b"")
                return
            message = (
                f"Requested tokens ({prompt_words}) exceed context window of {fake.context_words}"
            )
            self._json(
                400,
                {
                    "error": {
                        "message": message,
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": "context_length_exceeded",
                    }
                },
            )
            return
        reply = self._fake._next_reply()
        if reply.stall and reply.stall_after_chunks is None:
            self._fake._pause(reply.stall)
        if reply.status != 200:
            payload = reply.body if reply.body is not None else {"error": dict(reply.error or {})}
            extra = dict(reply.headers)
            if reply.retry_after is not None:
                extra["Retry-After"] = reply.retry_after
            self._json(reply.status, payload, extra)
            return
        content = default_answer(body["messages"]) if reply.content is AUTO else reply.content
        assert not isinstance(content, _Auto)
        if reply.think is not None:
            content = f"<think>{reply.think}</think>\n\n{content or ''}"
        if reply.empty_stream and body.get("stream"):
            self._head(200, "text/event-stream; charset=utf-8", {"Transfer-Encoding": "chunked"})
            self._send_chunk(b"")
            return
        if reply.ramble and content:
            content = self._fake._rambling(content, body, prompt_words)
        if body.get("stream"):
            self._stream(reply, model, content, body["messages"])
        else:
            self._complete(reply, model, content, body["messages"])

    # ------------------------------------------------------------------ answers

    def _complete(
        self, reply: Reply, model: str, content: str | None, messages: list[Any]
    ) -> None:
        if reply.close_after_chunks is not None:
            self._drop()
            return
        message: JSON = {"role": "assistant", "content": content, "refusal": None}
        if reply.reasoning_content is not None:
            message[reply.reasoning_field] = reply.reasoning_content
        completion = {
            "id": self._fake._completion_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": _usage(messages, content, reply.reasoning_content),
        }
        payload = json.dumps(completion).encode()
        if reply.malformed_after_chunks is not None:
            payload = payload[: len(payload) // 2]
        if reply.stall_after_chunks is not None:
            self._head(200, "application/json", {"Content-Length": str(len(payload))})
            self._fake._pause(reply.stall)
            self.wfile.write(payload)
            return
        self._head(200, "application/json", {"Content-Length": str(len(payload)), **reply.headers})
        self.wfile.write(payload)

    def _stream(self, reply: Reply, model: str, content: str | None, messages: list[Any]) -> None:
        completion_id, created = self._fake._completion_id(), int(time.time())

        def chunk(delta: JSON, finish_reason: str | None = None) -> JSON:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
                ],
            }

        self._head(
            200,
            "text/event-stream; charset=utf-8",
            {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache", **reply.headers},
        )
        self._send_chunk(b": keep-alive\n\n")
        fake = self._fake
        self._event(
            chunk(
                {"role": "assistant"} if fake.role_only else {"role": "assistant", "content": ""}
            )
        )
        pieces = (
            re.findall(r"\S+\s*", content or "")
            if reply.ramble
            else _pieces(content or "", reply.chunks)
        )
        deltas = [
            {reply.reasoning_field: piece}
            for piece in _pieces(reply.reasoning_content or "", reply.chunks)
        ] + [{"content": piece} for piece in pieces]
        for sent, delta in enumerate(deltas):
            self._fault_point(reply, sent)
            if sent and reply.chunk_delay:
                self._fake._pause(reply.chunk_delay)
            self._event(chunk(delta))
        self._fault_point(reply, len(deltas))
        if reply.finish_chunk:
            self._event(chunk({}, reply.finish_reason))
        if fake.usage_chunks if reply.usage_chunk is None else reply.usage_chunk:
            usage = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": _usage(messages, content, reply.reasoning_content),
            }
            self._event(usage)
        self._send_chunk(b"data: [DONE]\n\n")
        self._send_chunk(b"")

    def _fault_point(self, reply: Reply, sent: int) -> None:
        if reply.stall_after_chunks == sent:
            self._fake._pause(reply.stall)
        if reply.malformed_after_chunks == sent:
            self._send_chunk(b'data: {"id": "chatcmpl-broken", "choices": [{"delta": \n\n')
        if reply.close_after_chunks == sent:
            self._drop()
            raise _Abort

    # ------------------------------------------------------------------ wire

    def _head(self, status: int, content_type: str, headers: Mapping[str, str]) -> None:
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [f"HTTP/1.1 {status} {phrase}", f"Content-Type: {content_type}"]
        lines += [f"x-request-id: req_{self._fake._request_count()}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self._head(
            status, "application/json", {"Content-Length": str(len(data)), **(headers or {})}
        )
        self.wfile.write(data)

    def _event(self, payload: JSON) -> None:
        self._send_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _drop(self) -> None:
        # A FIN, not a reset: what was sent still arrives, then the response is cut short.
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
        self.close_connection = True


def _error_body(message: str, kind: str) -> JSON:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _prompt_words(messages: list[Any]) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))


def _usage(messages: list[Any], content: str | None, reasoning: str | None) -> JSON:
    prompt = sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))
    completion = len((content or "").split()) + len((reasoning or "").split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


class _Server(ThreadingHTTPServer):
    """Threaded server that tracks its connections so that stop() can close and join them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeLLMServer) -> None:
        self.fake = fake
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        self._closing = False
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="fake-llm-connection",
            daemon=True,
        )
        with self._connections_lock:
            if self._closing:
                self.shutdown_request(request)
                return
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            pass  # a vanished client is not an error of the server
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)
            self.shutdown_request(request)

    def close_connections(self, timeout: float) -> None:
        """Ends every open connection and joins its thread."""
        with self._connections_lock:
            self._closing = True
            connections = list(self._connections.items())
            for sock, _ in connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            thread.join(timeout)


class FakeLLMServer:
    """OpenAI-compatible chat completions on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        *,
        reasoning_model: bool = False,
        api_key: str | None = None,
        models: Collection[str] | None = None,
        context_words: int | None = None,
        honours: Collection[str] = ("max_tokens", "max_completion_tokens"),
        usage_chunks: bool = True,
        role_only: bool = False,
    ) -> None:
        # As OpenAI's reasoning models (o-series, gpt-5): max_tokens and any temperature but
        # the default are refused with a 400 before anything else happens.
        self.reasoning_model = reasoning_model
        self.api_key = api_key  # None: any key, or none, will do
        self.models = frozenset(models) if models is not None else None  # None: any name
        self.context_words = context_words  # prompt and answer, in words; None: unbounded
        self.honours = frozenset(honours)  # which length parameters cap a rambling reply
        self.usage_chunks = usage_chunks
        self.role_only = role_only  # the first chunk is {"role": "assistant"}, no content
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._script: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def llama_cpp(
        cls,
        *,
        api_key: str | None = None,
        models: Collection[str] | None = None,
        context_words: int = 512,
    ) -> FakeLLMServer:
        """As llama-cpp-python's server answered when tried: see the module docstring."""
        return cls(
            api_key=api_key,
            models=models,
            context_words=context_words,
            honours=("max_tokens",),
            usage_chunks=False,
            role_only=True,
        )

    def start(self) -> Self:
        """Binds a free port and serves in a background thread."""
        if self._server is not None:
            raise RuntimeError("FakeLLMServer is already running")
        self._stopping.clear()
        server = _Server(self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-llm-server",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Wakes stalled answers, closes every connection and joins all threads."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections(timeout=2.0)
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, the value for ``LLMSettings.base_url``."""
        if self._server is None:
            raise RuntimeError("FakeLLMServer is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queues replies for the next requests, in order."""
        with self._lock:
            self._script.extend(replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._script)

    # ------------------------------------------------------------------ for the handler

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    def _refused_parameter(self, body: JSON) -> JSON | None:
        """OpenAI's error object for a parameter a reasoning model does not take, if any."""
        if not self.reasoning_model:
            return None
        if "max_tokens" in body:
            return {
                "message": "Unsupported parameter: 'max_tokens' is not supported with this "
                "model. Use 'max_completion_tokens' instead.",
                "type": "invalid_request_error",
                "param": "max_tokens",
                "code": "unsupported_parameter",
            }
        if body.get("temperature", 1) != 1:
            return {
                "message": f"Unsupported value: 'temperature' does not support "
                f"{body['temperature']} with this model. Only the default (1) value is supported.",
                "type": "invalid_request_error",
                "param": "temperature",
                "code": "unsupported_value",
            }
        return None

    def _rambling(self, content: str, body: JSON, prompt_words: int) -> str:
        limits = [
            int(body[name]) for name in sorted(self.honours) if isinstance(body.get(name), int)
        ]
        room = (self.context_words or 4096) - prompt_words
        count = max(1, min([room, *limits]))
        pattern = content.split()
        return " ".join(pattern[i % len(pattern)] for i in range(count))

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else Reply()

    def _completion_id(self) -> str:
        with self._lock:
            return f"chatcmpl-fake{next(self._ids):06d}"

    def _pause(self, seconds: float) -> None:
        if self._stopping.wait(seconds):
            raise _Abort
