"""A small OTLP/HTTP trace receiver for tests and local debugging (no collector needed).

Accepts `POST /v1/traces` (protobuf, optionally gzip), parses it with `opentelemetry.proto`
(installed with the OTLP exporter) and keeps the spans; `GET /spans` returns them as JSON and
`DELETE /spans` clears them. Optionally appends each span to a JSONL file.

A request is only parsed (in C) when it arrives; its spans become Python dicts when they are
read, so a benchmark exporting to a receiver on the same machine does not pay for that (about
10 µs a span) while it measures.

    python tools/otlp_receiver.py --port 4318 --jsonl /tmp/spans.jsonl
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 rlm-adk ask --trace otlp ...
"""

from __future__ import annotations

import argparse
import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def any_value(value: AnyValue) -> Any:
    """An OTLP `AnyValue` as plain Python data."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(items: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in items if isinstance(kv, KeyValue)}


def parse(body: bytes) -> ExportTraceServiceRequest:
    """One export request's protobuf body, parsed (raises on a malformed body)."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return request


def decode(body: bytes) -> list[dict[str, Any]]:
    """Spans of one export request, flattened with their resource and scope."""
    return flatten(parse(body))


def flatten(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    """Spans of a parsed export request, flattened with their resource and scope."""
    out: list[dict[str, Any]] = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                out.append(
                    {
                        "name": s.name,
                        "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex() or None,
                        "start_time_unix_nano": s.start_time_unix_nano,
                        "end_time_unix_nano": s.end_time_unix_nano,
                        "scope": scope_spans.scope.name,
                        "status": s.status.code,
                        "attributes": attributes(s.attributes),
                        "resource": resource,
                    }
                )
    return out


class OtlpReceiver:
    """A receiver on `host:port` (port 0 picks a free one), served from a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, jsonl: str | None = None) -> None:
        self._spans: list[dict[str, Any]] = []
        self._pending: list[ExportTraceServiceRequest] = []
        """Parsed requests whose spans are not yet dicts (`spans()` converts them)."""
        self._lock = threading.Lock()
        self.requests = 0
        self.jsonl = jsonl
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _reply(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/traces":
                    self._reply(404, b"not found", "text/plain")
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                try:
                    request = parse(body)
                except Exception as exc:  # a malformed body is the client's error
                    self._reply(400, str(exc).encode(), "text/plain")
                    return
                receiver._add(request)
                ok = ExportTraceServiceResponse().SerializeToString()
                self._reply(200, ok, "application/x-protobuf")

            def do_GET(self) -> None:
                if self.path.rstrip("/") != "/spans":
                    self._reply(404, b"not found", "text/plain")
                    return
                self._reply(200, json.dumps(receiver.spans()).encode(), "application/json")

            def do_DELETE(self) -> None:
                with receiver._lock:
                    receiver._spans.clear()
                    receiver._pending.clear()
                self._reply(204, b"", "text/plain")

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def endpoint(self) -> str:
        """Base URL for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`)."""
        return f"http://{self.server.server_address[0]}:{self.port}"

    def _add(self, request: ExportTraceServiceRequest) -> None:
        with self._lock:
            self.requests += 1
            if not self.jsonl:
                self._pending.append(request)
                return
            spans = flatten(request)  # the file is written as spans arrive
            self._spans.extend(spans)
            with open(self.jsonl, "a", encoding="utf-8") as handle:
                handle.writelines(json.dumps(s) + "\n" for s in spans)

    def spans(self) -> list[dict[str, Any]]:
        """Every span received so far, in arrival order."""
        with self._lock:
            for request in self._pending:
                self._spans.extend(flatten(request))
            self._pending.clear()
            return list(self._spans)

    def start(self) -> OtlpReceiver:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4318)
    parser.add_argument("--jsonl", default=None, help="also append every span to this file")
    args = parser.parse_args()
    receiver = OtlpReceiver(args.host, args.port, args.jsonl)
    print(f"OTLP/HTTP receiver on {receiver.endpoint}/v1/traces (GET /spans to read)")
    try:
        receiver.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.server.server_close()


if __name__ == "__main__":
    main()
