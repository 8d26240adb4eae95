"""A small OTLP/HTTP trace receiver for tests and local debugging (no collector needed).

Accepts `POST /v1/traces` (protobuf, optionally gzip), decodes it with `opentelemetry.proto`
(installed with the OTLP exporter) and keeps the spans; `GET /spans` returns them as JSON and
`DELETE /spans` clears them. Optionally appends each span to a JSONL file.

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


def decode(body: bytes) -> list[dict[str, Any]]:
    """Spans of one export request, flattened with their resource and scope."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
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
                    spans = decode(body)
                except Exception as exc:  # a malformed body is the client's error
                    self._reply(400, str(exc).encode(), "text/plain")
                    return
                receiver._add(spans)
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

    def _add(self, spans: list[dict[str, Any]]) -> None:
        with self._lock:
            self._spans.extend(spans)
            self.requests += 1
            if self.jsonl:
                with open(self.jsonl, "a", encoding="utf-8") as handle:
                    handle.writelines(json.dumps(s) + "\n" for s in spans)

    def spans(self) -> list[dict[str, Any]]:
        with self._lock:
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
