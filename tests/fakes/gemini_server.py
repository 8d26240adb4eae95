"""A fake Gemini REST endpoint on 127.0.0.1 for tests: scripted answers, recorded requests.

It speaks the Gemini Developer API shape that google-genai (and so ADK's `Gemini`) uses:
`POST /{version}/models/{model}:generateContent` (JSON) and
`POST /{version}/models/{model}:streamGenerateContent?alt=sse` (server-sent events, used by
ADK only with `RunConfig(streaming_mode=StreamingMode.SSE)`, e.g. `adk web`).

Pointing ADK at it, without any real key:

- every Gemini in the process (also those the engine builds from names): set the environment
  `GOOGLE_API_KEY=fake-key` and `GOOGLE_GEMINI_BASE_URL=<server.base_url>`, and unset
  `GOOGLE_GENAI_USE_ENTERPRISE` / `GOOGLE_GENAI_USE_VERTEXAI` (google-genai reads these when a
  model's client is first built, i.e. on its first request). `server.install_env(monkeypatch)`
  does all of this; the `fake_gemini_server` fixture uses it;
- one model: `Gemini(model="gemini-3.5-flash", base_url=server.base_url)` with `GOOGLE_API_KEY`
  set (ADK passes `base_url` to the client's `http_options`; ADK's docs say the base URL must be
  set on the model or its client, not per request).

Answers, in order of precedence for each request: the next scripted item (`server.push(...)`: a
response dict, a `FakeError` such as `FakeError.rate_limited()`, or a callable
`(request_json) -> response_json`), else the `handler` callable, else an HTTP 400 saying the
script ran out (400 is not retried, so a test fails fast). `text_response` and `call_response`
build response JSON with `usageMetadata`. Requests are served on concurrent threads (parallel
sub-calls really run in parallel; `latency=` simulates model time), so a handler may be called
from several threads at once. `server.requests` records every request with its answer's status.

Usage from a conftest (the module is importable as `tests.fakes.gemini_server`)::

    from tests.fakes.gemini_server import fake_gemini_server  # noqa: F401  (a fixture)

    async def test_x(fake_gemini_server):
        fake_gemini_server.push(text_response("hi"))
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "FakeError",
    "FakeGeminiServer",
    "RecordedRequest",
    "call_response",
    "fake_gemini",
    "fake_gemini_server",
    "text_response",
]

Json = dict[str, Any]
Handler = Callable[[Json], Json]

_PATH = re.compile(
    r"^/(?P<version>v[^/]+)/(?:.*/)?models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$"
)
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def usage(prompt_tokens: int = 10, output_tokens: int = 5, thoughts_tokens: int = 0) -> Json:
    """A `usageMetadata` object."""
    meta: Json = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": prompt_tokens + output_tokens + thoughts_tokens,
    }
    if thoughts_tokens:
        meta["thoughtsTokenCount"] = thoughts_tokens
    return meta


def response_json(
    parts: list[Json],
    *,
    prompt_tokens: int = 10,
    output_tokens: int = 5,
    thoughts_tokens: int = 0,
    finish_reason: str = "STOP",
    model_version: str = "fake-gemini",
) -> Json:
    """A `GenerateContentResponse` with one candidate made of `parts`."""
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": parts},
                "finishReason": finish_reason,
                "index": 0,
            }
        ],
        "usageMetadata": usage(prompt_tokens, output_tokens, thoughts_tokens),
        "modelVersion": model_version,
    }


def text_response(text: str, **kwargs: Any) -> Json:
    """A response whose candidate is one text part (keyword arguments as `response_json`)."""
    return response_json([{"text": text}], **kwargs)


def call_response(
    name: str, args: Json | None = None, *, text: str | None = None, **kwargs: Any
) -> Json:
    """A response calling function `name` with `args` (optionally after a text part)."""
    parts: list[Json] = [{"text": text}] if text else []
    parts.append({"functionCall": {"name": name, "args": args or {}}})
    return response_json(parts, **kwargs)


@dataclass
class FakeError:
    """An HTTP error answer with a Google-style error body."""

    status: int
    message: str = "fake error"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def rate_limited(
        cls, message: str = "Resource has been exhausted (e.g. check quota)."
    ) -> FakeError:
        """HTTP 429 RESOURCE_EXHAUSTED, what Gemini returns when over quota."""
        return cls(429, message, {"Retry-After": "0"})

    def body(self) -> Json:
        return {
            "error": {
                "code": self.status,
                "message": self.message,
                "status": _STATUS_NAMES.get(self.status, "UNKNOWN"),
            }
        }


Scripted = Json | FakeError | Handler


@dataclass
class RecordedRequest:
    """One request the server received."""

    model: str
    method: str
    """`generateContent` or `streamGenerateContent`."""
    path: str
    headers: dict[str, str]
    body: Json
    status: int = 0
    """The HTTP status it was answered with."""

    def texts(self) -> list[str]:
        """Every text part of the request's contents, in order."""
        return [
            part["text"]
            for content in self.body.get("contents", [])
            for part in content.get("parts", [])
            if "text" in part
        ]

    @property
    def system_instruction(self) -> str:
        """The system instruction's text ('' when none)."""
        instruction = self.body.get("systemInstruction") or {}
        return "".join(part.get("text", "") for part in instruction.get("parts", []))

    @property
    def function_names(self) -> list[str]:
        """Names of the functions declared to the model."""
        return [
            decl["name"]
            for tool in self.body.get("tools", [])
            for decl in tool.get("functionDeclarations", [])
        ]


class FakeGeminiServer:
    """The fake endpoint; use as a context manager or call `start()` / `stop()`."""

    def __init__(self, handler: Handler | None = None, *, latency: float = 0.0) -> None:
        self.handler = handler
        self.latency = latency
        """Seconds to wait before each answer (simulated model latency)."""
        self.requests: list[RecordedRequest] = []
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------------------------
    def push(self, *items: Scripted) -> FakeGeminiServer:
        """Queues answers: response dicts, `FakeError`s or `(request_json) -> response` callables."""
        with self._lock:
            self._script.extend(items)
        return self

    @property
    def pending(self) -> int:
        """Scripted answers not yet served."""
        with self._lock:
            return len(self._script)

    def _next(self) -> Scripted | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return self.handler

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`: the value for `base_url` / `GOOGLE_GEMINI_BASE_URL`."""
        if self._httpd is None:
            raise RuntimeError("the fake Gemini server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGeminiServer:
        server = self

        class RequestHandler(_GeminiRequestHandler):
            fake = server

        self._httpd = _Server(("127.0.0.1", 0), RequestHandler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown() waits up to one poll interval
            name="fake-gemini",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeGeminiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def install_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Points every google-genai client built from now on at this server, with a fake key."""
        monkeypatch.setenv("GOOGLE_API_KEY", "fake-key")
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", self.base_url)
        for name in (
            "GEMINI_API_KEY",
            "GOOGLE_GENAI_USE_ENTERPRISE",
            "GOOGLE_GENAI_USE_VERTEXAI",
            "GOOGLE_GENAI_API_VERSION",
        ):
            monkeypatch.delenv(name, raising=False)


class _Server(ThreadingHTTPServer):
    # Loopback load tests open many connections at once; the default backlog of 5 drops them.
    request_queue_size = 128
    daemon_threads = True


class _GeminiRequestHandler(BaseHTTPRequestHandler):
    fake: FakeGeminiServer
    protocol_version = "HTTP/1.1"  # Keep-alive, as httpx expects from Google's front end.

    def log_message(self, format: str, *args: Any) -> None:
        pass  # Quiet: tests read `server.requests` instead.

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        match = _PATH.match(path)
        if match is None:
            self._send_json(404, FakeError(404, f"unknown path {path}").body())
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send_json(400, FakeError(400, "request body is not JSON").body())
            return
        recorded = RecordedRequest(
            model=match["model"],
            method=match["method"],
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.fake._record(recorded)
        if self.fake.latency:
            time.sleep(self.fake.latency)
        answer = self.fake._next()
        if callable(answer):
            try:
                answer = answer(body)
            except Exception as exc:  # A broken test callable: say so instead of hanging up.
                answer = FakeError(400, f"fake handler raised {type(exc).__name__}: {exc}")
        if answer is None:
            answer = FakeError(400, "fake Gemini server: no scripted response left")
        if isinstance(answer, FakeError):
            recorded.status = answer.status
            self._send_json(answer.status, answer.body(), answer.headers)
            return
        recorded.status = 200
        if match["method"] == "streamGenerateContent" and "alt=sse" in query:
            self._send_sse(answer)
        else:
            self._send_json(200, answer)

    def _send_json(self, status: int, body: Json, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_sse(self, body: Json) -> None:
        data = f"data: {json.dumps(body)}\r\n\r\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def fake_gemini(
    *responses: Scripted, handler: Handler | None = None, latency: float = 0.0
) -> Iterator[FakeGeminiServer]:
    """Runs a `FakeGeminiServer` scripted with `responses` for the duration of the block."""
    with FakeGeminiServer(handler, latency=latency) as server:
        server.push(*responses)
        yield server


@pytest.fixture
def fake_gemini_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGeminiServer]:
    """A running fake server with the environment pointing google-genai at it (see module doc)."""
    with fake_gemini() as server:
        server.install_env(monkeypatch)
        yield server


def model_env(base_url: str, **extra: str) -> dict[str, str]:
    """The environment of a process (CLI, api_server, adk web) whose Gemini models are served by
    the fake endpoint at `base_url`: no RLM_/GOOGLE_/OTEL_ settings of the caller leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RLM_", "GOOGLE_", "OTEL_"))}
    env.update(
        GOOGLE_API_KEY="fake-key",
        GOOGLE_GEMINI_BASE_URL=base_url,
        RLM_MODEL="gemini-3.5-flash",
        RLM_SUB_MODEL="gemini-3.5-flash-lite",
        ADK_DISABLE_LOAD_DOTENV="1",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    env.update(extra)
    return env
