"""OpenTelemetry for the recursion tree: the `rlm_adk` tracer, span helpers and exporter set-up.

Spans nest under ADK's own (`invoke_agent`, `execute_tool`, ...) through the current context, which
asyncio tasks, `asyncio.to_thread` and Monty's host callbacks all carry. Telemetry is never
required for the engine to run: with no provider configured the API's no-op tracer is used, and a
library never installs a provider by itself — only `setup_tracing` (called by the CLI or the
application) does, and it never replaces one that is already set (ADK's servers set one).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any, Literal

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

TRACER_NAME = "rlm_adk"
MAX_CONTENT_CHARS = 4_000

# OpenTelemetry gen_ai semantic-convention attributes set on rlm.* spans.
GEN_AI_OPERATION = "gen_ai.operation.name"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"

ExporterName = Literal["none", "console", "otlp", "gcp", "jsonl"]
EXPORTERS: tuple[str, ...] = ("none", "console", "otlp", "gcp", "jsonl")

# Resolved lazily by the API: a proxy until a provider is set, the real tracer afterwards.
_TRACER = trace.get_tracer(TRACER_NAME)


def tracer() -> trace.Tracer:
    """The `rlm_adk` tracer (the global provider's, or the API's no-op one)."""
    return _TRACER


def capture_content(setting: bool | None = None) -> bool:
    """Whether prompts, code and outputs go into spans (follows ADK's switch by default)."""
    if setting is not None:
        return setting
    raw = os.environ.get("ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS", "true").strip().lower()
    return raw not in {"0", "false", "no", "off"}


def clip(text: str, limit: int = MAX_CONTENT_CHARS) -> str:
    """`text` cut to `limit` characters, saying how much was cut."""
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


# -- credential scrubbing -------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|PRIVATE", re.IGNORECASE)
_MIN_SECRET_CHARS = 8
REDACTED = "[REDACTED]"


class _SecretValues:
    """Values of credential-like environment variables, refreshed when the environment changes.

    Captured content can quote anything a document, a model or (with the trusted subprocess
    sandbox) code printed; any of these values found in it is replaced before it reaches a span.
    """

    def __init__(self) -> None:
        self._values: tuple[str, ...] = ()
        self._size = -1
        self._checked = 0.0
        self._lock = threading.Lock()

    def get(self) -> tuple[str, ...]:
        now = time.monotonic()
        # len(os.environ) is O(1): a cheap signal that variables were added or removed.
        if len(os.environ) != self._size or now - self._checked > 5.0:
            with self._lock:
                self._size = len(os.environ)
                self._checked = now
                found = [v for k, v in os.environ.items() if _SECRET_NAME.search(k)]
                # Longest first, so a secret containing another is replaced whole.
                self._values = tuple(
                    sorted({v for v in found if len(v) >= _MIN_SECRET_CHARS}, key=len, reverse=True)
                )
        return self._values


_SECRETS = _SecretValues()


def scrub(text: str) -> str:
    """`text` with the values of credential-like environment variables replaced."""
    for value in _SECRETS.get():
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def content(text: str | None, enabled: bool, limit: int = MAX_CONTENT_CHARS) -> str | None:
    """Span-ready content: None when capture is off, else scrubbed and clipped."""
    if not enabled or text is None:
        return None
    return _scrubbed_head(text, len(text), limit)


def joined_content(
    parts: Sequence[str], separator: str, enabled: bool, limit: int = MAX_CONTENT_CHARS
) -> str | None:
    """`content(separator.join(parts), enabled, limit)` without joining the parts whole (a
    sub-call's prompt may hold a MiB-sized chunk, of which a span keeps the head)."""
    if not enabled:
        return None
    total = sum(map(len, parts)) + len(separator) * max(0, len(parts) - 1)
    keep = limit + max((len(v) for v in _SECRETS.get()), default=0)
    pieces: list[str] = []
    size = 0
    for index, part in enumerate(parts):
        for piece in (separator, part) if index else (part,):
            if size >= keep:
                break
            pieces.append(piece[: keep - size])
            size += len(pieces[-1])
    return _scrubbed_head("".join(pieces), total, limit)


def _scrubbed_head(head: str, total: int, limit: int) -> str:
    """`head` (the start of a text of `total` characters, at least `limit` + the longest secret
    long when the text is longer than `limit`) scrubbed and clipped to `limit`."""
    if total <= limit:
        return scrub(head)
    longest = max((len(v) for v in _SECRETS.get()), default=0)
    # Scrub a little more than is kept, so no secret straddles the cut unmatched.
    return scrub(head[: limit + longest])[:limit] + f"... [{total - limit} more chars]"


def messages_json(role: str, text: str) -> str:
    """One message in the gen_ai `input.messages`/`output.messages` JSON shape."""
    # Built by hand around the C string encoder json.dumps uses for a str (the same text, without
    # dumps' per-call set-up): this runs twice per sub-call.
    return (
        f'[{{"role": {encode_basestring_ascii(role)}, "parts": [{{"type": "text", '
        f'"content": {encode_basestring_ascii(text)}}}]}}]'
    )


# -- spans -------------------------------------------------------------------------------------


class _SpanScope:
    """`with span(...) as s:` — the span is current inside, ended on exit, marked as an error
    when an exception leaves it. A plain class: cheaper than two generator context managers,
    which matters on the per-sub-call path."""

    __slots__ = ("_attributes", "_lazy", "_name", "_span", "_token")

    def __init__(
        self,
        name: str,
        attributes: dict[str, Any],
        lazy: dict[str, Callable[[], Any]] | None = None,
    ) -> None:
        self._name = name
        self._attributes = attributes
        self._lazy = lazy

    def __enter__(self) -> Span:
        current = _TRACER.start_span(self._name, attributes=self._attributes)
        lazy = self._lazy
        if lazy and current.is_recording():
            try:
                values = {key: make() for key, make in lazy.items()}
            except BaseException as exc:
                # The block never runs, so __exit__ never would: end the span here.
                current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                current.end()
                raise
            current.set_attributes({k: v for k, v in values.items() if v is not None})
        self._span = current
        self._token = otel_context.attach(trace.set_span_in_context(current))
        return current

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        current = self._span
        try:
            if exc_type is not None and current.is_recording():
                current.set_status(Status(StatusCode.ERROR, exc_type.__name__))
                current.set_attribute("error.type", exc_type.__name__)
        finally:
            otel_context.detach(self._token)
            current.end()


def span(name: str, **attributes: Any) -> _SpanScope:
    """A span named `name` under the current one (None-valued attributes are left out).

    An attribute given as a zero-argument callable is lazy: it is called, and its value set,
    only when the span records (after the span starts, so a sampler does not see it). Costly
    values, such as captured prompts, use this so that no tracing, or a span a sampler
    dropped, costs nothing for them.
    """
    eager: dict[str, Any] = {}
    lazy: dict[str, Callable[[], Any]] | None = None
    for key, value in attributes.items():
        if value is None:
            continue
        if callable(value):
            if lazy is None:
                lazy = {}
            lazy[key] = value
        else:
            eager[key] = value
    return _SpanScope(name, eager, lazy)


# -- context reads ------------------------------------------------------------------------------

READ_METHODS = frozenset({"read", "read_bytes", "lines", "text"})
GREP_METHODS = frozenset({"grep"})


def _size(value: Any) -> int:
    """Bytes of a read's result (UTF-8 for text)."""
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "replace"))
    if isinstance(value, list | tuple):
        return sum(_size(v) for v in value)
    return 0


def _cache_counters(handle: Any) -> tuple[int, int] | None:
    """(hits, misses) of the handle's block cache: from a `stats()` method if the handle has one,
    else from its corpus's cache; None when neither exists."""
    stats: Any = None
    stats_fn = getattr(handle, "stats", None)
    if callable(stats_fn):
        with contextlib.suppress(Exception):
            stats = stats_fn()
    if stats is None:
        stats = getattr(getattr(getattr(handle, "corpus", None), "cache", None), "stats", None)
    if isinstance(stats, Mapping):
        hits, misses = (
            stats.get("cache_hits", stats.get("hits")),
            stats.get("cache_misses", stats.get("misses")),
        )
    else:
        hits, misses = getattr(stats, "hits", None), getattr(stats, "misses", None)
    return (hits, misses) if isinstance(hits, int) and isinstance(misses, int) else None


def _scope_bytes(handle: Any, paths: Any) -> int:
    """Bytes a grep over `paths` (all files when None) has in scope."""
    try:
        files = handle.files
        if paths is None:
            return sum(f.size for f in files)
        wanted = {paths} if isinstance(paths, str) else set(paths)
        return sum(f.size for f in files if f.path in wanted)
    except Exception:
        return 0


def traced_context_call(
    obj: Any,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    call: Callable[[], Any],
    *,
    node_id: str | None,
    capture: bool,
    on_bytes: Callable[[int, int], None] | None = None,
) -> Any:
    """Runs `call()` (a context-handle or chunk method) inside an `rlm.context.read` or
    `rlm.context.grep` span; reports (bytes returned, bytes scanned) to `on_bytes`."""
    if method not in READ_METHODS and method not in GREP_METHODS:
        return call()
    is_grep = method in GREP_METHODS
    handle = getattr(obj, "handle", None) if method == "text" else obj
    path = getattr(obj, "path", None) if method == "text" else (args[0] if args else None)
    if is_grep:
        path = None
    before = _cache_counters(handle) if handle is not None else None
    with span(
        "rlm.context.grep" if is_grep else "rlm.context.read",
        **{
            "rlm.node_id": node_id,
            "rlm.context.method": method,
            "rlm.context.path": path if isinstance(path, str) else None,
            "rlm.context.source": path.partition("/")[0] if isinstance(path, str) else None,
            "rlm.context.pattern": content(args[0], capture, 500)
            if is_grep and args and isinstance(args[0], str)
            else None,
        },
    ) as current:
        result = call()
        returned = 0 if is_grep else _size(result)
        scanned = 0
        done: dict[str, Any] = {}
        if is_grep:
            scanned = _scope_bytes(handle, kwargs.get("paths", args[1] if len(args) > 1 else None))
            done["rlm.context.matches"] = len(result) if result else 0
            done["rlm.context.bytes_scanned"] = scanned
        else:
            done["rlm.context.bytes"] = returned
        after = _cache_counters(handle) if before is not None else None
        if before is not None and after is not None:
            # Counters of the shared cache: concurrent reads of the same corpus may show too.
            done["rlm.context.cache_hits"] = after[0] - before[0]
            done["rlm.context.cache_misses"] = after[1] - before[1]
        current.set_attributes(done)
        if on_bytes is not None:
            on_bytes(returned, scanned)
        return result


# -- exporter set-up ----------------------------------------------------------------------------


class TracingSetupError(ValueError):
    """Tracing could not be set up as asked; the message says what to install or set."""


def span_to_dict(span_: ReadableSpan) -> dict[str, Any]:
    """One finished span as plain JSON data (what the JSONL exporter writes per line)."""
    ctx = span_.context
    scope = span_.instrumentation_scope
    return {
        "name": span_.name,
        "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
        "span_id": f"{ctx.span_id:016x}" if ctx else None,
        "parent_span_id": f"{span_.parent.span_id:016x}" if span_.parent else None,
        "kind": span_.kind.name,
        "start_time_unix_nano": span_.start_time,
        "end_time_unix_nano": span_.end_time,
        "status": span_.status.status_code.name,
        "status_description": span_.status.description,
        "scope": scope.name if scope else None,
        "attributes": _plain(span_.attributes),
        "events": [
            {"name": e.name, "time_unix_nano": e.timestamp, "attributes": _plain(e.attributes)}
            for e in span_.events
        ],
        "resource": _resource_dict(span_.resource),
    }


_RESOURCES: dict[int, tuple[Any, dict[str, Any], str]] = {}


def _resource_dict(resource: Any) -> dict[str, Any]:
    """A provider's resource as JSON data, computed once (it is the same for every span)."""
    return _resource_entry(resource)[1]


def _resource_entry(resource: Any) -> tuple[Any, dict[str, Any], str]:
    """(resource, its attributes as a dict, that dict as JSON), cached by identity."""
    cached = _RESOURCES.get(id(resource))
    if cached is None or cached[0] is not resource:
        attributes = dict(resource.attributes) if resource is not None else {}
        cached = _RESOURCES[id(resource)] = (resource, attributes, _json(attributes))
    return cached


def _plain(attributes: Any) -> dict[str, Any]:
    """Attributes as a dict (json writes their tuples as arrays)."""
    if not attributes:
        return {}
    copy = getattr(attributes, "copy", None)  # BoundedAttributes.copy(): one locked dict copy
    return copy() if callable(copy) else dict(attributes)


# What `json.dumps(value, default=str)` writes, through a C encoder made once: `json.dumps` makes
# a new encoder on every call that passes an option, which costs more than encoding a span's
# attributes.
_C_ENCODER = json.encoder.c_make_encoder
_JSON_ENCODER = json.JSONEncoder(default=str)
_ENCODE: Callable[[Any, int], Any] | None = (
    _C_ENCODER(None, str, encode_basestring_ascii, None, ": ", ", ", False, False, True)
    if _C_ENCODER is not None
    else None
)


def _json(value: Any) -> str:
    """`json.dumps(value, default=str)`."""
    if _ENCODE is None:  # pragma: no cover - CPython always has the C encoder
        return _JSON_ENCODER.encode(value)
    return "".join(_ENCODE(value, 0))


_NAMES: dict[Any, str] = {}


def _enum_json(member: Any) -> str:
    """An enum member's name as a JSON string (`SpanKind.INTERNAL` -> `"INTERNAL"`), cached:
    reading `.name` goes through a descriptor."""
    text = _NAMES.get(member)
    if text is None:
        text = _NAMES[member] = encode_basestring_ascii(member.name)
    return text


def _scope_json(scope: Any) -> str:
    return _json(scope.name) if scope is not None else "null"


def span_to_json(span_: ReadableSpan) -> str:
    """One finished span as a line of JSON (no newline): the text of
    `json.dumps(span_to_dict(span_), default=str)`, built without the intermediate dict. The
    JSONL exporter runs this once per span as the span ends."""
    ctx = span_.context
    parent = span_.parent
    status = span_.status
    name = span_.name
    events = span_.events
    description = status.description
    start, end = span_.start_time, span_.end_time
    if ctx:
        trace_id, span_id = f'"{ctx.trace_id:032x}"', f'"{ctx.span_id:016x}"'
    else:
        trace_id = span_id = "null"
    parent_id = f'"{parent.span_id:016x}"' if parent else "null"
    return (
        f'{{"name": {encode_basestring_ascii(name) if type(name) is str else _json(name)}, '
        f'"trace_id": {trace_id}, "span_id": {span_id}, "parent_span_id": {parent_id}, '
        f'"kind": {_enum_json(span_.kind)}, '
        f'"start_time_unix_nano": {start if type(start) is int else _json(start)}, '
        f'"end_time_unix_nano": {end if type(end) is int else _json(end)}, '
        f'"status": {_enum_json(status.status_code)}, '
        f'"status_description": {"null" if description is None else _json(description)}, '
        f'"scope": {_scope_json(span_.instrumentation_scope)}, '
        f'"attributes": {_json(_plain(span_.attributes))}, '
        f'"events": {_events_json(events) if events else "[]"}, '
        f'"resource": {_resource_entry(span_.resource)[2]}}}'
    )


def _events_json(events: Any) -> str:
    return _json(
        [
            {"name": e.name, "time_unix_nano": e.timestamp, "attributes": _plain(e.attributes)}
            for e in events
        ]
    )


def _jsonl_processor(path: str, flush_seconds: float = 1.0) -> SpanProcessor:
    from opentelemetry.sdk.trace import SpanProcessor

    class JsonlSpanProcessor(SpanProcessor):
        """Appends one JSON object per finished span to a file (`span_to_json`).

        Each span is encoded as it ends, on the thread that ends it: the span object dies
        young (no queue keeping thousands alive for the garbage collector to walk) and no
        export thread competes for the GIL. (Measured with `tools/bench_tracing.py`'s request:
        the same encoding behind the SDK's `BatchSpanProcessor` used as much CPU and a little
        more wall time.) Lines go through a 1 MiB buffer, written out when a span ends a
        second after the last write, on `force_flush` and at shutdown (exit). A processor
        rather than an exporter under the SDK's `SimpleSpanProcessor`, which would wrap every
        span in a tuple, a context change and a metrics call.
        """

        def __init__(self, target: str) -> None:
            directory = os.path.dirname(os.path.abspath(target))
            os.makedirs(directory, exist_ok=True)
            self.path = target
            self._file = open(target, "a", encoding="utf-8", buffering=1 << 20)  # noqa: SIM115
            self._lock = threading.Lock()
            self._flush_seconds = flush_seconds
            self._flushed = time.monotonic()

        def on_end(self, span: ReadableSpan) -> None:
            ctx = span.context
            if ctx is None or not ctx.trace_flags.sampled:
                return
            line = span_to_json(span) + "\n"
            with self._lock:
                if self._file.closed:
                    return
                self._file.write(line)
                now = time.monotonic()
                if now - self._flushed >= self._flush_seconds:
                    self._file.flush()
                    self._flushed = now

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            with self._lock:
                if not self._file.closed:
                    self._file.flush()
                    self._flushed = time.monotonic()
            return True

        def shutdown(self) -> None:
            with self._lock:
                self._file.close()

    return JsonlSpanProcessor(path)


@dataclass
class TracingSetup:
    """What `setup_tracing` did; `flush()` before a short-lived process exits."""

    exporter: str
    processors: list[SpanProcessor]
    installed_provider: bool
    """True when this call set the global provider; False when it added to an existing one."""
    target: str | None = None
    """Where spans go: a file, an endpoint, `stdout`, `Cloud Trace (<project>)`."""

    def __str__(self) -> str:
        return f"{self.exporter}:{self.target}" if self.target else self.exporter

    def flush(self, timeout_millis: int = 30_000) -> bool:
        return all(p.force_flush(timeout_millis) for p in self.processors)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()


def parse_trace_spec(spec: str, path: str | None = None) -> tuple[str, str | None]:
    """`"jsonl:/tmp/t.jsonl"` -> `("jsonl", "/tmp/t.jsonl")`; `"console"` -> `("console", None)`."""
    name, sep, rest = spec.partition(":")
    name = name.strip().lower()
    if name not in EXPORTERS:
        raise TracingSetupError(f"unknown trace exporter {spec!r}; choose one of {EXPORTERS}")
    if sep and rest:
        if path is not None and path != rest:
            raise TracingSetupError(f"two paths given for {name}: {rest!r} and {path!r}")
        path = rest
    return name, path


def _gcp_processors(google_auth: tuple[Any, str] | None) -> tuple[list[SpanProcessor], Any]:
    """Cloud Trace through ADK's own `--otel_to_cloud` path (OTLP to telemetry.googleapis.com)."""
    try:
        import google.auth
        import google.auth.exceptions
        from google.adk.telemetry.google_cloud import get_gcp_exporters, get_gcp_resource
    except ImportError as exc:  # pragma: no cover - google-auth ships with google-adk
        raise TracingSetupError(
            f"Cloud Trace export needs google-auth and google-adk's telemetry ({exc.name} is "
            "missing): pip install 'google-adk[otel]'"
        ) from exc
    if google_auth is None:
        try:
            google_auth = google.auth.default(
                scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise TracingSetupError(
                "Cloud Trace export needs Google Cloud credentials: run `gcloud auth "
                "application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
            ) from exc
    credentials, project = google_auth
    project = project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise TracingSetupError("Cloud Trace export needs a project: set GOOGLE_CLOUD_PROJECT")
    hooks = get_gcp_exporters(enable_cloud_tracing=True, google_auth=(credentials, project))
    if not hooks.span_processors:
        raise TracingSetupError(
            "Cloud Trace export is unavailable: install opentelemetry-exporter-otlp-proto-http"
        )
    return list(hooks.span_processors), get_gcp_resource(project)


def _processors(
    name: str, path: str | None, google_auth: tuple[Any, str] | None
) -> tuple[list[SpanProcessor], Any]:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    if name == "gcp":
        return _gcp_processors(google_auth)
    if name == "console":
        return [BatchSpanProcessor(ConsoleSpanExporter())], None
    if name == "jsonl":
        if not path:
            raise TracingSetupError("the jsonl exporter needs a file: jsonl:/path/to/spans.jsonl")
        return [_jsonl_processor(path)], None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise TracingSetupError(
            "OTLP export needs opentelemetry-exporter-otlp-proto-http: "
            "pip install 'opentelemetry-exporter-otlp-proto-http<=1.44'"
        ) from exc
    # With no endpoint given, the exporter reads the standard OTEL_EXPORTER_OTLP_* variables.
    exporter = OTLPSpanExporter(endpoint=path) if path else OTLPSpanExporter()
    return [BatchSpanProcessor(exporter)], None


def setup_tracing(
    exporter: ExporterName | str = "none",
    path: str | None = None,
    *,
    service_name: str | None = None,
    google_auth: tuple[Any, str] | None = None,
) -> TracingSetup:
    """Sends spans somewhere: `none`, `console`, `otlp`, `gcp` or `jsonl` (one span per line).

    `exporter` may carry its target, as the CLI's `--trace` does: `jsonl:/tmp/spans.jsonl`,
    `otlp:http://127.0.0.1:4318/v1/traces` (else the `OTEL_EXPORTER_OTLP_*` variables apply).
    `gcp` follows ADK's `--otel_to_cloud` path and needs Google credentials and a project
    (`google_auth=(credentials, project)` passes them explicitly).

    A provider that is already set (ADK's servers, the application) is never replaced: the
    exporter is added to it. Otherwise a new SDK provider becomes the global one. `none` does
    nothing at all, which is what a library should do.
    """
    name, target = parse_trace_spec(exporter, path)
    if name == "none":
        return TracingSetup("none", [], installed_provider=False)
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    processors, resource = _processors(name, target, google_auth)
    where = _target(name, target, resource)
    current = trace.get_tracer_provider()
    is_proxy = isinstance(current, trace.ProxyTracerProvider)
    if not is_proxy:
        add = getattr(current, "add_span_processor", None)
        if not callable(add):
            raise TracingSetupError(
                f"the global tracer provider ({type(current).__name__}) accepts no exporters"
            )
        for processor in processors:
            add(processor)
        return TracingSetup(name, processors, installed_provider=False, target=where)
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES apply; an explicit name wins over both.
    name_ = service_name or os.environ.get("OTEL_SERVICE_NAME") or "rlm-adk"
    base = Resource.create({"service.name": name_})
    provider = TracerProvider(resource=base.merge(resource) if resource is not None else base)
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return TracingSetup(name, processors, installed_provider=True, target=where)


def _target(name: str, path: str | None, resource: Any) -> str | None:
    """Where spans go, for messages (`TracingSetup.__str__`)."""
    if name == "otlp" and not path:
        env = os.environ
        return env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318/v1/traces"
        )
    if name == "gcp":
        project = resource.attributes.get("gcp.project_id") if resource is not None else None
        return f"Cloud Trace ({project})" if project else "Cloud Trace"
    return "stdout" if name == "console" else path
