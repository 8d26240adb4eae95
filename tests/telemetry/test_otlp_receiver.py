"""`tools/otlp_receiver.py`: parses a request as it arrives (a malformed body is refused), turns
its spans into dicts when they are read, and writes its JSONL file as spans arrive."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tools.otlp_receiver import OtlpReceiver


def finished_spans() -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "receiver-test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("rlm_adk")
    with (
        tracer.start_as_current_span("outer", attributes={"rlm.depth": 0}),
        tracer.start_as_current_span("inner", attributes={"rlm.depth": 1, "k": ("a", "b")}),
    ):
        pass
    return list(memory.get_finished_spans())


def post(receiver: OtlpReceiver, body: bytes, **headers: str) -> int:
    request = urllib.request.Request(
        f"{receiver.endpoint}/v1/traces",
        data=body,
        headers={"Content-Type": "application/x-protobuf", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_spans_are_decoded_when_read_and_cleared_by_delete():
    body = encode_spans(finished_spans()).SerializeToString()
    with OtlpReceiver() as receiver:
        assert post(receiver, body) == 200
        assert post(receiver, gzip.compress(body), **{"Content-Encoding": "gzip"}) == 200
        assert receiver.requests == 2
        assert receiver._pending and not receiver._spans  # not decoded yet
        spans: list[dict[str, Any]] = receiver.spans()
        assert [s["name"] for s in spans] == ["inner", "outer", "inner", "outer"]
        inner, outer = spans[:2]
        assert inner["parent_span_id"] == outer["span_id"] and outer["parent_span_id"] is None
        assert inner["attributes"] == {"rlm.depth": 1, "k": ["a", "b"]}
        assert inner["resource"]["service.name"] == "receiver-test"
        assert inner["scope"] == "rlm_adk"
        with urllib.request.urlopen(f"{receiver.endpoint}/spans", timeout=10) as response:
            assert json.loads(response.read()) == spans
        assert post(receiver, body) == 200  # pending again, then cleared with the rest
        delete = urllib.request.Request(f"{receiver.endpoint}/spans", method="DELETE")
        with urllib.request.urlopen(delete, timeout=10) as response:
            assert response.status == 204
        assert receiver.spans() == []


def test_a_malformed_body_is_refused_at_once():
    with OtlpReceiver() as receiver:
        assert post(receiver, b"\xff\xff not protobuf") == 400
        assert receiver.requests == 0 and receiver.spans() == []


@pytest.mark.parametrize("reads", [False, True])
def test_the_jsonl_file_is_written_as_spans_arrive(tmp_path, reads):
    out = tmp_path / "received.jsonl"
    body = encode_spans(finished_spans()).SerializeToString()
    with OtlpReceiver(jsonl=str(out)) as receiver:
        assert post(receiver, body) == 200
        written = [json.loads(line)["name"] for line in out.read_text().splitlines()]
        assert written == ["inner", "outer"]
        if reads:
            assert [s["name"] for s in receiver.spans()] == written
